package httpapi

import "net/http"

// KinetixRouteDeps configures the emote routes (placeholder).
type KinetixRouteDeps struct{}

// emoteRoutes registers /v1/emotes (placeholder until that issue lands).
func (s *Server) emoteRoutes(*http.ServeMux) {}

package httpapi

import "net/http"

// GeneraitivRouteDeps configures the generation routes (placeholder).
type GeneraitivRouteDeps struct{}

// generationRoutes registers /v1/generations and the webhook (placeholder
// until that issue lands).
func (s *Server) generationRoutes(*http.ServeMux) {}

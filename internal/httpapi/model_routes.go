package httpapi

import "net/http"

// modelRoutes registers /api/models (placeholder until that issue lands).
func (s *Server) modelRoutes(*http.ServeMux) {}

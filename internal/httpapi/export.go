package httpapi

import (
	"net/http"
)

// handleExport is POST /api/export: no header required (as the document
// says), rate limited. It asks every exporter to flush its in-memory buffers
// and answers 202 with what it triggered: {"status":"triggered",
// "exporters":N}, the number of exporters that answered. The route is
// public, so it says nothing else (no exporter names, counts of events or
// files, paths or app ids: those stay in the logs). The API never touches
// files; calls are coalesced into at most one flush request every few
// seconds (see export.FlushTrigger).
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	if s.flush == nil {
		writeError(w, r, &APIError{Status: http.StatusServiceUnavailable, Code: "export_unavailable",
			Message: "export is not configured on this server", RetryAfter: 5})
		return
	}
	exporters, err := s.flush(r.Context())
	if err != nil {
		s.logger.Warn().Err(err).Msg("httpapi: error requesting export flush")
		writeError(w, r, &APIError{Status: http.StatusServiceUnavailable, Code: "export_unavailable",
			Message: "could not reach the exporters; retry later", RetryAfter: 1})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "triggered", "exporters": exporters})
}

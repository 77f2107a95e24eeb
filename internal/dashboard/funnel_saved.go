package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of saved funnels.
const (
	maxSavedFunnels   = 200
	maxFunnelNameLen  = 100
	maxSavedFunnelDoc = 16 << 10
)

// savedFunnel is a funnel saved by name (docs/dashboard.md, "Saved
// funnels"): the parameters of GET /dashboard/api/funnel but the range.
type savedFunnel struct {
	Name    string            `json:"name"`
	Steps   []string          `json:"steps"`
	Window  string            `json:"window"`
	Per     string            `json:"per"`
	By      string            `json:"by"`
	Filters map[string]string `json:"filters"`
	// UpdatedAt is when it was last saved; ignored on input.
	UpdatedAt time.Time `json:"updated_at"`
}

var errFunnelNotFound = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no saved funnel has that name"}

// validate checks a funnel to save by the funnel view's own rules and
// returns it in its stored form.
func (sf *savedFunnel) validate() (window time.Duration, err error) {
	sf.Name = strings.TrimSpace(sf.Name)
	switch {
	case sf.Name == "":
		return 0, badParam("name", "is required")
	case len(sf.Name) > maxFunnelNameLen:
		return 0, badParam("name", "longer than "+strconv.Itoa(maxFunnelNameLen)+" bytes")
	case !utf8.ValidString(sf.Name) || strings.IndexFunc(sf.Name, unicode.IsControl) >= 0:
		return 0, badParam("name", "must be printable UTF-8 text")
	}
	q := url.Values{"steps": {strings.Join(sf.Steps, ",")}, "window": {sf.Window}, "per": {sf.Per}, "by": {sf.By}}
	for _, s := range sf.Steps {
		if strings.Contains(s, ",") {
			return 0, badParam("steps", "a step name may not hold a comma")
		}
	}
	for k, v := range sf.Filters {
		if !slices.Contains(filterNames, k) {
			return 0, badParam("filters", "unknown filter "+strconv.Quote(k)+"; use "+strings.Join(filterNames, ", "))
		}
		q.Set(k, v)
	}
	if sf.Steps, err = parseSteps(q); err != nil {
		return 0, err
	}
	if window, err = parseDuration(q, "window", defaultWindow, time.Second, maxWindow); err != nil {
		return 0, err
	}
	if sf.Per, err = parseChoice(q, "per", "player", "player", "session"); err != nil {
		return 0, err
	}
	if sf.By, err = parseChoice(q, "by", "", funnelBreakdowns...); err != nil {
		return 0, err
	}
	if _, err = parseFilters(q); err != nil {
		return 0, err
	}
	sf.Window = window.String()
	if sf.Filters == nil {
		sf.Filters = map[string]string{}
	}
	for k, v := range sf.Filters {
		if v == "" {
			delete(sf.Filters, k)
		}
	}
	return window, nil
}

// handleSaveFunnel is POST /dashboard/api/funnels: save (or replace) a
// funnel under its name. Cross-origin browser requests are refused.
func (h *Handler) handleSaveFunnel(w http.ResponseWriter, r *http.Request) {
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	app, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var sf savedFunnel
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSavedFunnelDoc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		h.writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_body",
			Message: "the body must be a JSON object {name, steps, window, per, by, filters} of at most 16 KiB: " + err.Error()})
		return
	}
	window, err := sf.validate()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var by *string
	if sf.By != "" {
		by = &sf.By
	}
	err = pgx.BeginTxFunc(r.Context(), h.db, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// The app's row lock orders concurrent saves, so the cap holds.
		if _, err := tx.Exec(r.Context(), "SELECT 1 FROM apps WHERE id = $1 FOR UPDATE", app); err != nil {
			return err
		}
		var n int
		err := tx.QueryRow(r.Context(), `SELECT count(*) FROM dashboard_funnels WHERE app_id = $1 AND name <> $2`, app, sf.Name).Scan(&n)
		if err != nil {
			return err
		}
		if n >= maxSavedFunnels {
			return &apiError{Status: http.StatusConflict, Code: "too_many_funnels",
				Message: "an app keeps at most " + strconv.Itoa(maxSavedFunnels) + " saved funnels; delete one first"}
		}
		return tx.QueryRow(r.Context(), `INSERT INTO dashboard_funnels (app_id, name, steps, window_seconds, per, breakdown, filters)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (app_id, name) DO UPDATE SET steps = excluded.steps, window_seconds = excluded.window_seconds,
				per = excluded.per, breakdown = excluded.breakdown, filters = excluded.filters, updated_at = now()
			RETURNING updated_at`,
			app, sf.Name, sf.Steps, int64(window.Seconds()), sf.Per, by, sf.Filters).Scan(&sf.UpdatedAt)
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sf)
}

// savedFunnelsView is GET /dashboard/api/funnels: the app's saved funnels
// by name.
type savedFunnelsView struct {
	Funnels []savedFunnel `json:"funnels"`
}

func (h *Handler) viewSavedFunnels(r *http.Request, app uuid.UUID, name string) ([]savedFunnel, error) {
	rows, err := h.db.Query(r.Context(), `SELECT name, steps, window_seconds, per, coalesce(breakdown, ''), filters, updated_at
		FROM dashboard_funnels WHERE app_id = $1 AND ($2 = '' OR name = $2) ORDER BY name LIMIT `+strconv.Itoa(maxSavedFunnels), app, name)
	if err != nil {
		return nil, err
	}
	out := []savedFunnel{}
	var (
		sf      savedFunnel
		seconds int64
	)
	_, err = pgx.ForEachRow(rows, []any{&sf.Name, &sf.Steps, &seconds, &sf.Per, &sf.By, &sf.Filters, &sf.UpdatedAt}, func() error {
		sf.Window = (time.Duration(seconds) * time.Second).String()
		out = append(out, sf)
		sf = savedFunnel{}
		return nil
	})
	return out, err
}

// handleListFunnels is GET /dashboard/api/funnels.
func (h *Handler) handleListFunnels(w http.ResponseWriter, r *http.Request) {
	app, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	list, err := h.viewSavedFunnels(r, app, "")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, savedFunnelsView{Funnels: list})
}

// handleGetFunnel is GET /dashboard/api/funnels/{name}.
func (h *Handler) handleGetFunnel(w http.ResponseWriter, r *http.Request) {
	app, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	if name == "" {
		h.writeError(w, r, errFunnelNotFound)
		return
	}
	list, err := h.viewSavedFunnels(r, app, name)
	switch {
	case err != nil:
		h.writeError(w, r, err)
	case len(list) == 0:
		h.writeError(w, r, errFunnelNotFound)
	default:
		writeJSON(w, http.StatusOK, list[0])
	}
}

// handleDeleteFunnel is DELETE /dashboard/api/funnels/{name}. Cross-origin
// browser requests are refused.
func (h *Handler) handleDeleteFunnel(w http.ResponseWriter, r *http.Request) {
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	app, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tag, err := h.db.Exec(r.Context(), `DELETE FROM dashboard_funnels WHERE app_id = $1 AND name = $2`, app, r.PathValue("name"))
	switch {
	case err != nil:
		h.writeError(w, r, err)
	case tag.RowsAffected() == 0:
		h.writeError(w, r, errFunnelNotFound)
	default:
		securityHeaders(w)
		w.WriteHeader(http.StatusNoContent)
	}
}

package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// unknownRef is the ref of the unknown level: trajectories (and gameplay
// events) without a level.
const unknownRef = "~"

// parseLevelRef reads a level's ref, the path segment that names it
// (docs/dashboard.md, "Levels"): "~" is the unknown level; a ref starting
// with "~" names the level without that first "~" (so "~~x" is level
// "~x"); any other ref is the level's id itself. Otherwise a ref obeys the
// filters' rules: at most 256 bytes of printable UTF-8.
func parseLevelRef(ref string) (levelKey, error) {
	if ref == unknownRef {
		return levelKey{}, nil
	}
	id := strings.TrimPrefix(ref, "~")
	switch {
	case id == "":
		return levelKey{}, badParam("ref", "is empty; the unknown level is ~")
	case len(id) > maxFilterBytes:
		return levelKey{}, badParam("ref", "longer than "+strconv.Itoa(maxFilterBytes)+" bytes")
	case !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0:
		return levelKey{}, badParam("ref", "must be printable UTF-8 text")
	}
	return levelKey{ID: id, Known: true}, nil
}

// ref is the level's ref, the inverse of parseLevelRef.
func (k levelKey) ref() string {
	switch {
	case !k.Known:
		return unknownRef
	case strings.HasPrefix(k.ID, "~"):
		return "~" + k.ID
	}
	return k.ID
}

// id is the level's id, nil for the unknown level (JSON's level_id).
func (k levelKey) id() *string {
	if !k.Known {
		return nil
	}
	id := k.ID
	return &id
}

// cond is the condition that a row of alias is on the level, starting with
// " AND"; a known level's id is appended to args.
func (k levelKey) cond(alias string, args *[]any) string {
	if !k.Known {
		return " AND " + alias + ".level_id IS NULL"
	}
	*args = append(*args, k.ID)
	return " AND " + alias + ".level_id = $" + strconv.Itoa(len(*args))
}

// levelView computes one JSON view of a level.
type levelView func(ctx context.Context, app uuid.UUID, level levelKey, q url.Values) (any, error)

// levelAPI wraps a level's view as api does, the level read from the
// route's {ref} (after authentication, so a bad ref never answers an
// unauthenticated request).
func (h *Handler) levelAPI(v levelView) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.api(func(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
			level, err := parseLevelRef(r.PathValue("ref"))
			if err != nil {
				return nil, err
			}
			return v(ctx, app, level, q)
		})(w, r)
	}
}

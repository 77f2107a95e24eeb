package generaitivsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// collectionPageSize is the fixed page of /tokens/collection/{slug}, as in
// the document's example ("pageSize": 14).
const collectionPageSize = 14

// pageParams reads page (default 0) and page_size (default 50, at most
// 100) for the search routes.
func pageParams(w http.ResponseWriter, r *http.Request) (page, size int, ok bool) {
	page, size = 0, 50
	var err error
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 0 {
			writeErr(w, http.StatusBadRequest, "invalid_page", "page must be a non-negative integer")
			return 0, 0, false
		}
	}
	if v := r.URL.Query().Get("page_size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 100 {
			writeErr(w, http.StatusBadRequest, "invalid_page_size", "page_size must be between 1 and 100")
			return 0, 0, false
		}
	}
	return page, size, true
}

func window[T any](all []T, from, size int) []T {
	if from >= len(all) {
		return []T{}
	}
	return all[from:min(from+size, len(all))]
}

func (s *Server) handleLatestTokens(w http.ResponseWriter, r *http.Request, _ *user) {
	page, size, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	all := s.sortedTokens(func(*token) bool { return true })
	out := make([]token, 0, size)
	for _, t := range window(all, page*size, size) {
		out = append(out, *t)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Server) handleLatestCollections(w http.ResponseWriter, r *http.Request, _ *user) {
	page, size, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	all := make([]collection, 0, len(s.cols))
	for _, c := range s.cols {
		all = append(all, *c)
	}
	s.mu.Unlock()
	sortCollections(all)
	writeJSON(w, http.StatusOK, map[string]any{"result": window(all, page*size, size)})
}

func sortCollections(cs []collection) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && (cs[j].CreatedAt.After(cs[j-1].CreatedAt.Time) ||
			cs[j].CreatedAt.Equal(cs[j-1].CreatedAt.Time) && cs[j].Slug < cs[j-1].Slug); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// handleCollectionTokens pages a collection's tokens: cursor is the offset
// of the first token (default 0); a page shorter than pageSize is the last.
func (s *Server) handleCollectionTokens(w http.ResponseWriter, r *http.Request, _ *user) {
	cursor, ok := s.readCursor(r.URL.Query().Get("cursor"))
	if !ok {
		writeErr(w, http.StatusBadRequest, "invalid_cursor", "cursor is not one this API gave")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCollection(r.PathValue("slug"))
	if c == nil {
		writeErr(w, http.StatusNotFound, "not_found", "no such collection")
		return
	}
	out := []map[string]any{}
	for _, t := range window(s.sortedTokens(c.holds), cursor, collectionPageSize) {
		out = append(out, map[string]any{
			"metadata": t.Metadata, "token_refresh_requested_at": t.Refreshed,
			"tokenId": t.TokenID, "collection": t.Collection, "status": t.Status,
			"total": "1", "entity": "TOKEN", "name": t.Metadata.Name, "created": t.Created, "modified": t.Created,
			"contract_type": "ERC1155", "token_uri": tokenURI(t.TokenID), "amount": t.Amount,
			"virtual_address": t.VirtualAddress, "pk": "TOKEN", "creator_address": t.Creator,
		})
	}
	answer := map[string]any{"pageSize": collectionPageSize, "result": out}
	if s.cfg.Variations {
		// An opaque cursor for the next page, null after the last.
		answer["cursor"] = nil
		if len(out) == collectionPageSize {
			answer["cursor"] = opaqueCursor(cursor + len(out))
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// readCursor reads a cursor: the offset of the first token, or in
// variations mode an opaque cursor this simulator gave ("0" and "" start).
func (s *Server) readCursor(v string) (int, bool) {
	if v == "" || v == "0" {
		return 0, true
	}
	if s.cfg.Variations {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		rest, ok := strings.CutPrefix(string(raw), "sim-cursor:")
		n, nerr := strconv.Atoi(rest)
		return n, err == nil && ok && nerr == nil && n >= 0
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

func opaqueCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sim-cursor:" + strconv.Itoa(offset)))
}

func tokenURI(id string) string {
	return "https://metadata.generaitiv.xyz/token/" + strings.TrimPrefix(id, "0x") + ".json"
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request, _ *user) {
	s.mu.Lock()
	u, ok := s.users[strings.ToLower(r.PathValue("address"))]
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "no such user")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleUserCollections(w http.ResponseWriter, r *http.Request, _ *user) {
	addr := r.PathValue("address")
	s.mu.Lock()
	out := []map[string]any{}
	var cs []collection
	for _, c := range s.cols {
		if strings.EqualFold(c.Owner, addr) {
			cs = append(cs, *c)
		}
	}
	s.mu.Unlock()
	sortCollections(cs)
	for _, c := range cs {
		out = append(out, map[string]any{"name": c.Name, "slug": c.Slug, "address": c.Address, "description": c.Description,
			"explicit": c.Explicit, "image": c.Image, "twitter": c.Twitter, "twitter_verified": c.TwitterVerified,
			"owner": c.Owner, "virtual": c.Virtual, "royalty_fee": c.RoyaltyFee, "status": c.Status,
			"virtual_address": c.VirtualAddress, "slugOrAddress": c.Slug})
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
}

func (s *Server) handleCollection(w http.ResponseWriter, r *http.Request, _ *user) {
	s.mu.Lock()
	c := s.findCollection(r.PathValue("slug"))
	var cp collection
	if c != nil {
		cp = *c
	}
	s.mu.Unlock()
	if c == nil {
		writeErr(w, http.StatusNotFound, "not_found", "no such collection")
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, _ *user) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[strings.ToLower(r.PathValue("tokenId"))]
	if c := s.findCollection(r.PathValue("address")); !ok || (!strings.EqualFold(r.PathValue("address"), t.Collection) && (c == nil || c.Slug != t.Slug)) {
		writeErr(w, http.StatusNotFound, "not_found", "no such token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"collection": t.Collection, "tokenId": t.TokenID, "amount": t.Amount, "contract_type": "ERC1155",
		"name": t.Metadata.Name, "token_uri": tokenURI(t.TokenID), "metadata": t.Metadata, "total": "1",
		"creator_address": t.Creator, "virtual_address": t.VirtualAddress, "workload_id": t.WorkloadID,
	})
}

func (s *Server) handleSlugFromID(w http.ResponseWriter, r *http.Request, _ *user) {
	s.mu.Lock()
	t, ok := s.tokens[strings.ToLower(r.PathValue("tokenId"))]
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "no such token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"slug": t.Slug})
}

// handleNextTokenID answers the address's next unused token id: it stays
// the same until a token is created with it.
func (s *Server) handleNextTokenID(w http.ResponseWriter, r *http.Request, _ *user) {
	addr := strings.ToLower(r.PathValue("address"))
	if len(addr) != 42 || !strings.HasPrefix(addr, "0x") {
		writeErr(w, http.StatusBadRequest, "invalid_address", "address must be 0x followed by 40 hex digits")
		return
	}
	s.mu.Lock()
	n := 1
	for s.tokens[tokenID(addr, n)] != nil {
		n++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"tokenId": tokenID(addr, n)})
}

// createTokenBody is the document's POST /c/virtual/token body.
type createTokenBody struct {
	TokenID     string      `json:"tokenId"`
	Amount      string      `json:"amount"`
	Attributes  []attribute `json:"attributes"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
}

// handleCreateToken creates a virtual token. The slug's collection is
// created for the caller on first use (the document has no route to create
// one). Creating the same token again with the same body succeeds (a
// retried request); with a different body it is 409 token_exists.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, caller *user) {
	var body createTokenBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_body", "body must be a JSON token")
		return
	}
	id := strings.ToLower(r.PathValue("tokenId"))
	switch {
	case !strings.EqualFold(body.TokenID, id):
		writeErr(w, http.StatusBadRequest, "invalid_token_id", "tokenId in the body must match the path")
		return
	case !strings.HasPrefix(id, strings.ToLower(caller.Address)) || len(id) != 66:
		writeErr(w, http.StatusForbidden, "forbidden", "tokenId must start with your address")
		return
	case body.Name == "":
		writeErr(w, http.StatusBadRequest, "invalid_name", "name is required")
		return
	}
	if body.Amount == "" {
		body.Amount = amount(1)
	}
	slug := r.PathValue("slug")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCollection(slug)
	if c == nil {
		c = &collection{Name: slug, Slug: slug, Address: virtualCollection, Owner: caller.Address, Virtual: true,
			Status: "ACTIVE", VirtualAddress: caller.Address, CreatedAt: now()}
		s.cols[slug] = c
	}
	if !strings.EqualFold(c.Owner, caller.Address) {
		writeErr(w, http.StatusForbidden, "forbidden", "the collection belongs to another user")
		return
	}
	if body.Attributes == nil {
		body.Attributes = []attribute{}
	}
	meta := metadata{Name: body.Name, Description: body.Description, Attributes: body.Attributes}
	if t, ok := s.tokens[id]; ok {
		if t.Slug == c.Slug && t.Amount == body.Amount && t.Metadata.Name == meta.Name &&
			t.Metadata.Description == meta.Description && reflect.DeepEqual(t.Metadata.Attributes, meta.Attributes) {
			writeJSON(w, http.StatusOK, map[string]string{"success": "true"})
			return
		}
		writeErr(w, http.StatusConflict, "token_exists", "a different token with this id exists")
		return
	}
	s.tokens[id] = &token{Collection: virtualCollection, TokenID: id, Creator: caller.Address, Status: "ACTIVE",
		VirtualAddress: c.VirtualAddress, Slug: c.Slug, Metadata: meta, Amount: body.Amount, Created: now(),
		Listing: newListing(0, time.Now(), 0)}
	s.tokens[id].Refreshed = s.tokens[id].Created
	s.stats.TokensCreated++
	writeJSON(w, http.StatusOK, map[string]string{"success": "true"})
}

func (s *Server) handleUserInfo(w http.ResponseWriter, _ *http.Request, caller *user) {
	writeJSON(w, http.StatusOK, map[string]string{"address": caller.Address})
}

// handleTrainings lists one completed training owned by the caller, so the
// route has the document's shape for any key.
func (s *Server) handleTrainings(w http.ResponseWriter, _ *http.Request, caller *user) {
	writeJSON(w, http.StatusOK, []map[string]string{{
		"id": "0x" + strings.Repeat("f", 64), "name": "Example", "description": "This is an example of a trained model",
		"status": "COMPLETED", "owner": caller.Address, "source_model_slug": "stability-ai-sdxl",
	}})
}

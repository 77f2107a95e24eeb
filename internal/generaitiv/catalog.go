package generaitiv

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// CollectionTokensPage is one page of GET /tokens/collection/{slug}.
type CollectionTokensPage struct {
	PageSize int     `json:"pageSize"`
	Result   []Token `json:"result"`
	// NextCursor is the cursor of the next page, "" after the last.
	NextCursor string `json:"-"`
}

// cursorFields are the names under which an answer may carry the next
// page's cursor; the document's example shows none.
var cursorFields = []string{"cursor", "nextCursor", "next_cursor", "next"}

// CollectionTokens returns the tokens of a collection (slug or address)
// from cursor on ("" or "0" for the first page). When the answer carries
// a next cursor (docs/upstreams-generaitiv.md names the fields), it is
// passed back as it came, opaque. The document's answer carries none, so
// otherwise the cursor is taken to be the offset of the next token, and a
// page shorter than pageSize is the last.
func (c *Client) CollectionTokens(ctx context.Context, slug, cursor string) (*CollectionTokensPage, error) {
	var raw map[string]json.RawMessage
	q := url.Values{"cursor": {cmp.Or(cursor, "0")}}
	const op = "GET /tokens/collection/{slug}"
	if err := c.do(ctx, "GET", op, "tokens/collection/"+seg(slug)+"/", q, nil, &raw); err != nil {
		return nil, err
	}
	var out CollectionTokensPage
	_ = json.Unmarshal(raw["pageSize"], &out.PageSize)
	if err := json.Unmarshal(raw["result"], &out.Result); raw["result"] != nil && err != nil {
		return nil, &upstream.Error{Service: Service, Op: op, Status: http.StatusOK, Message: "undecodable result: " + err.Error()}
	}
	for _, f := range cursorFields {
		if next, ok := opaqueCursor(raw[f]); ok {
			if len(out.Result) > 0 && next != cursor {
				out.NextCursor = next
			}
			return &out, nil
		}
	}
	if out.PageSize > 0 && len(out.Result) >= out.PageSize {
		offset, err := strconv.Atoi(cmp.Or(cursor, "0"))
		if err != nil {
			return nil, fmt.Errorf("generaitiv: cursor %q is not an offset and the answer named no next cursor", cursor)
		}
		out.NextCursor = strconv.Itoa(offset + len(out.Result))
	}
	return &out, nil
}

// opaqueCursor reads a cursor given as a string or a number; null, absent
// and "" mean there is no next page named.
func opaqueCursor(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// AllCollectionTokens iterates every token of a collection, following the
// cursor; it yields the first error and stops.
func (c *Client) AllCollectionTokens(ctx context.Context, slug string) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		for cursor := "0"; cursor != ""; {
			page, err := c.CollectionTokens(ctx, slug, cursor)
			if err != nil {
				yield(Token{}, err)
				return
			}
			for _, t := range page.Result {
				if !yield(t, nil) {
					return
				}
			}
			cursor = page.NextCursor
		}
	}
}

// Collection returns a collection's metadata by slug or address
// (GET /c/{slug}).
func (c *Client) Collection(ctx context.Context, slug string) (*Collection, error) {
	var out Collection
	if err := c.do(ctx, "GET", "GET /c/{slug}", "c/"+seg(slug)+"/", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Token returns a token by collection (address or slug) and token id
// (GET /c/{address}/{tokenId}).
func (c *Client) Token(ctx context.Context, collection, tokenID string) (*Token, error) {
	var out Token
	if err := c.do(ctx, "GET", "GET /c/{address}/{tokenId}", "c/"+seg(collection)+"/"+seg(tokenID)+"/", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SlugFromID returns the slug of a token's collection
// (GET /c/virtual/slug-from-id/{tokenId}).
func (c *Client) SlugFromID(ctx context.Context, tokenID string) (string, error) {
	var out struct {
		Slug string `json:"slug"`
	}
	if err := c.do(ctx, "GET", "GET /c/virtual/slug-from-id/{tokenId}", "c/virtual/slug-from-id/"+seg(tokenID)+"/", nil, nil, &out); err != nil {
		return "", err
	}
	return out.Slug, nil
}

// NextTokenID returns the token id to create next for a wallet address
// (GET /c/virtual/next/{address}). It stays the same until a token is
// created with it.
func (c *Client) NextTokenID(ctx context.Context, address string) (string, error) {
	var out struct {
		TokenID string `json:"tokenId"`
	}
	if err := c.do(ctx, "GET", "GET /c/virtual/next/{address}", "c/virtual/next/"+seg(address), nil, nil, &out); err != nil {
		return "", err
	}
	return out.TokenID, nil
}

// CreateToken creates a token in a collection
// (POST /c/virtual/token/{slug}/{tokenId}). Repeating the same request
// succeeds; a different token with the same id is a 409 (IsConflict).
func (c *Client) CreateToken(ctx context.Context, slug string, t *NewToken) error {
	var out struct {
		Success any `json:"success"`
	}
	return c.do(ctx, "POST", "POST /c/virtual/token/{slug}/{tokenId}",
		"c/virtual/token/"+seg(slug)+"/"+seg(t.TokenID)+"/", nil, t, &out)
}

// User returns a wallet's profile (GET /u/{address}).
func (c *Client) User(ctx context.Context, address string) (*User, error) {
	var out User
	if err := c.do(ctx, "GET", "GET /u/{address}", "u/"+seg(address)+"/", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserCollections returns the collections a wallet made
// (GET /u/{address}/collections).
func (c *Client) UserCollections(ctx context.Context, address string) ([]Collection, error) {
	var out struct {
		Collections []Collection `json:"collections"`
	}
	if err := c.do(ctx, "GET", "GET /u/{address}/collections", "u/"+seg(address)+"/collections/", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Collections, nil
}

// UserInfo returns the wallet address of the client's API key
// (GET /consumer/user-info).
func (c *Client) UserInfo(ctx context.Context) (string, error) {
	var out struct {
		Address string `json:"address"`
	}
	if err := c.do(ctx, "GET", "GET /consumer/user-info", "consumer/user-info/", nil, nil, &out); err != nil {
		return "", err
	}
	return out.Address, nil
}

// Trainings returns the models trained by the key's owner
// (GET /training/owned-by/me).
func (c *Client) Trainings(ctx context.Context) ([]Training, error) {
	var out []Training
	if err := c.do(ctx, "GET", "GET /training/owned-by/me", "training/owned-by/me", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

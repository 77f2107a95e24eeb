package generaitiv

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// CollectionTokensPage is one page of GET /tokens/collection/{slug}.
type CollectionTokensPage struct {
	PageSize int     `json:"pageSize"`
	Result   []Token `json:"result"`
	// NextCursor is the cursor of the next page, or -1 after the last.
	NextCursor int `json:"-"`
}

// CollectionTokens returns the tokens of a collection (slug or address)
// from cursor on. The document is silent on the cursor: it is the offset
// of the first token, and a page shorter than pageSize is the last.
func (c *Client) CollectionTokens(ctx context.Context, slug string, cursor int) (*CollectionTokensPage, error) {
	var out CollectionTokensPage
	q := url.Values{"cursor": {strconv.Itoa(cursor)}}
	if err := c.do(ctx, "GET", "GET /tokens/collection/{slug}", "tokens/collection/"+seg(slug), q, nil, &out); err != nil {
		return nil, err
	}
	out.NextCursor = -1
	if out.PageSize > 0 && len(out.Result) >= out.PageSize {
		out.NextCursor = cursor + len(out.Result)
	}
	return &out, nil
}

// AllCollectionTokens iterates every token of a collection, following the
// cursor; it yields the first error and stops.
func (c *Client) AllCollectionTokens(ctx context.Context, slug string) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		for cursor := 0; cursor >= 0; {
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
	if err := c.do(ctx, "GET", "GET /c/{slug}", "c/"+seg(slug), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Token returns a token by collection (address or slug) and token id
// (GET /c/{address}/{tokenId}).
func (c *Client) Token(ctx context.Context, collection, tokenID string) (*Token, error) {
	var out Token
	if err := c.do(ctx, "GET", "GET /c/{address}/{tokenId}", "c/"+seg(collection)+"/"+seg(tokenID), nil, nil, &out); err != nil {
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
	if err := c.do(ctx, "GET", "GET /c/virtual/slug-from-id/{tokenId}", "c/virtual/slug-from-id/"+seg(tokenID), nil, nil, &out); err != nil {
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
		"c/virtual/token/"+seg(slug)+"/"+seg(t.TokenID), nil, t, &out)
}

// User returns a wallet's profile (GET /u/{address}).
func (c *Client) User(ctx context.Context, address string) (*User, error) {
	var out User
	if err := c.do(ctx, "GET", "GET /u/{address}", "u/"+seg(address), nil, nil, &out); err != nil {
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
	if err := c.do(ctx, "GET", "GET /u/{address}/collections", "u/"+seg(address)+"/collections", nil, nil, &out); err != nil {
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
	if err := c.do(ctx, "GET", "GET /consumer/user-info", "consumer/user-info", nil, nil, &out); err != nil {
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

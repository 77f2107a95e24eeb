package generaitiv

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// Page selects one page of a search route: Page counts from 0, Size is
// page_size (the upstream's default when 0).
type Page struct {
	Page int
	Size int
}

func (p Page) query() url.Values {
	q := url.Values{"page": {strconv.Itoa(p.Page)}}
	if p.Size > 0 {
		q.Set("page_size", strconv.Itoa(p.Size))
	}
	return q
}

// LatestTokens returns one page of the latest listed tokens
// (GET /q/latest-tokens).
func (c *Client) LatestTokens(ctx context.Context, p Page) ([]Token, error) {
	var out struct {
		Result []Token `json:"result"`
	}
	if err := c.do(ctx, "GET", "GET /q/latest-tokens", "q/latest-tokens/", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}

// LatestCollections returns one page of the latest collections
// (GET /q/latest-collections).
func (c *Client) LatestCollections(ctx context.Context, p Page) ([]Collection, error) {
	var out struct {
		Result []Collection `json:"result"`
	}
	if err := c.do(ctx, "GET", "GET /q/latest-collections", "q/latest-collections/", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}

// AllLatestTokens iterates the latest tokens page by page, size at a time,
// stopping after a short page, after max tokens (0: no limit) or at the
// first error, which it yields.
func (c *Client) AllLatestTokens(ctx context.Context, size, max int) iter.Seq2[Token, error] {
	return paged(ctx, size, max, func(ctx context.Context, p Page) ([]Token, error) { return c.LatestTokens(ctx, p) })
}

// AllLatestCollections iterates the latest collections like
// AllLatestTokens.
func (c *Client) AllLatestCollections(ctx context.Context, size, max int) iter.Seq2[Collection, error] {
	return paged(ctx, size, max, func(ctx context.Context, p Page) ([]Collection, error) { return c.LatestCollections(ctx, p) })
}

// paged walks page-numbered results. The document does not say how the
// last page is marked; a page shorter than size ends the walk.
func paged[T any](ctx context.Context, size, max int, fetch func(context.Context, Page) ([]T, error)) iter.Seq2[T, error] {
	if size <= 0 {
		size = 50
	}
	return func(yield func(T, error) bool) {
		n := 0
		for page := 0; ; page++ {
			items, err := fetch(ctx, Page{Page: page, Size: size})
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
				if n++; max > 0 && n >= max {
					return
				}
			}
			if len(items) < size {
				return
			}
		}
	}
}

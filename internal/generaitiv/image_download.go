package generaitiv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// ErrImageTooLarge is returned when an image exceeds the size cap.
var ErrImageTooLarge = errors.New("image exceeds the size limit")

// ErrNotImage is returned when a link's content is not an accepted image
// type.
var ErrNotImage = errors.New("link content is not an accepted image")

// ImageTypes are the content types OpenImage accepts by default.
var ImageTypes = []string{"image/png", "image/jpeg", "image/webp", "image/gif"}

// Image is an opened image download; close Body.
type Image struct {
	// Body yields at most the size cap and then fails with
	// ErrImageTooLarge.
	Body io.ReadCloser
	// ContentType is the checked media type.
	ContentType string
	// Size is the announced length, or -1.
	Size int64
}

// OpenImage GETs an image behind a completion link through the SSRF guard:
// http(s) only, no credentials in the URL, no private address unless it is
// a configured upstream, at most maxBytes, and a content type that is both
// announced and sniffed as one of ImageTypes. Refusals match
// ErrUnsafeLink, ErrImageTooLarge or ErrNotImage; HTTP failures are
// *upstream.Error.
func (c *Client) OpenImage(ctx context.Context, link string, maxBytes int64) (*Image, error) {
	const op = "GET image"
	u, err := url.Parse(link)
	switch {
	case err != nil:
		return nil, &UnsafeLinkError{Host: "?", Reason: "unparsable link"}
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, &UnsafeLinkError{Host: u.Host, Reason: "scheme " + u.Scheme + " is not http(s)"}
	case u.User != nil:
		return nil, &UnsafeLinkError{Host: u.Host, Reason: "credentials in the link"}
	case u.Host == "":
		return nil, &UnsafeLinkError{Host: "", Reason: "no host"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("error building %s: %w", op, err)
	}
	req.Header.Set("Accept", strings.Join(ImageTypes, ", "))
	resp, err := c.guarded.Do(req)
	if err != nil {
		if unsafe := asUnsafe(err); unsafe != nil {
			return nil, unsafe
		}
		return nil, upstream.FromTransport(Service, op, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = resp.Body.Close()
		}
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, upstream.FromResponse(Service, op, resp, nil)
	}
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrImageTooLarge, resp.ContentLength, maxBytes)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(ImageTypes, mt) {
		return nil, fmt.Errorf("%w: content type %q", ErrNotImage, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReaderSize(resp.Body, 512)
	head, _ := br.Peek(512)
	if sniffed := http.DetectContentType(head); sniffed != mt {
		return nil, fmt.Errorf("%w: announced %s, content looks like %s", ErrNotImage, mt, sniffed)
	}
	ok = true
	return &Image{
		Body:        &capped{r: br, c: resp.Body, left: maxBytes},
		ContentType: mt,
		Size:        resp.ContentLength,
	}, nil
}

// capped reads at most left bytes and fails with ErrImageTooLarge past it.
type capped struct {
	r    io.Reader
	c    io.Closer
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrImageTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - 1, ErrImageTooLarge
	}
	return n, err
}

func (c *capped) Close() error { return c.c.Close() }

package generaitiv

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// UploadURL returns a signed URL that accepts a PUT of the token's image
// (GET /upload/token/{tokenId}/{fileName}).
func (c *Client) UploadURL(ctx context.Context, tokenID, fileName string) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	if err := c.do(ctx, "GET", "GET /upload/token/{tokenId}/{fileName}", "upload/token/"+seg(tokenID)+"/"+seg(fileName)+"/", nil, nil, &out); err != nil {
		return "", err
	}
	if u, err := url.Parse(out.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", &upstream.Error{Service: Service, Op: "GET /upload/token", Status: http.StatusOK, Message: "the upload URL is not an http(s) URL"}
	}
	return out.URL, nil
}

// parseStoreError reads the object store's XML error
// (<Error><Code>..</Code><Message>..</Message></Error>), or a JSON one.
func parseStoreError(body []byte) (code, message string) {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &e) == nil && e.Code != "" {
		return e.Code, e.Message
	}
	return parseError(body)
}

// PutUpload PUTs size bytes of body to a signed upload URL. The signed URL
// carries its own authorisation, so no API key is sent (an object store
// refuses a second credential); contentType must be the type of the file
// name the URL was asked for, which the signature covers, and size must be
// known (a presigned PUT needs a Content-Length). The call goes through the
// SSRF guard because the URL came from the upstream.
func (c *Client) PutUpload(ctx context.Context, signedURL, contentType string, body io.Reader, size int64) error {
	const op = "PUT upload"
	if size < 0 {
		return errors.New("generaitiv: PutUpload needs the size: a signed upload URL takes no chunked body")
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, signedURL, body)
	if err != nil {
		return fmt.Errorf("error building %s: %w", op, err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	resp, err := c.guarded.Do(req)
	if err != nil {
		if unsafe := asUnsafe(err); unsafe != nil {
			return unsafe
		}
		return upstream.FromTransport(Service, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return upstream.FromResponse(Service, op, resp, parseStoreError)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

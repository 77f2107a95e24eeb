package kinetix

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
)

// CreateProcessRequest is what POST /v1/process needs besides the token.
type CreateProcessRequest struct {
	// Name is the emote's name.
	Name string
	// Mature marks adult-only content.
	Mature bool
	// Start and End bound the clip, "HH:MM:SS.mmm".
	Start, End string
	// Video is read once, streamed into the request body.
	Video io.Reader
	// VideoSize is Video's length in bytes; it lets the request carry a
	// Content-Length. Negative means unknown (chunked upload).
	VideoSize int64
	// Filename names the video part. Defaults to "video".
	Filename string
}

// CreateProcess is POST /v1/process: it starts generating an emote from the
// video, spending token (from CreateToken or Retake). The body is
// multipart/form-data built around the caller's reader, so the video is
// never held in memory.
func (c *Client) CreateProcess(ctx context.Context, token string, req *CreateProcessRequest) (*Process, error) {
	if req.Video == nil {
		return nil, errors.New("kinetix: CreateProcess needs a video")
	}
	var head, tail bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, f := range [][2]string{
		{"mature", strconv.FormatBool(req.Mature)}, {"start", req.Start}, {"end", req.End}, {"name", req.Name},
	} {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition("video", cmp.Or(req.Filename, "video")))
	h.Set("Content-Type", "application/octet-stream")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	// Close writes the closing boundary; it belongs after the video.
	headLen := head.Len()
	if err := mw.Close(); err != nil {
		return nil, err
	}
	tail.Write(head.Bytes()[headLen:])
	head.Truncate(headLen)

	length := int64(-1)
	if req.VideoSize >= 0 {
		length = int64(head.Len()) + req.VideoSize + int64(tail.Len())
	}
	var p Process
	err := c.call(ctx, &request{
		op: "POST /v1/process", method: http.MethodPost, path: "/v1/process",
		header: http.Header{
			"Content-Type": {mw.FormDataContentType()},
			"X-Api-Token":  {token},
		},
		body:    io.MultiReader(&head, req.Video, &tail),
		length:  length,
		timeout: c.uploadTimeout,
	}, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

package generaitivsim

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
)

// renderPNG draws a width×height gradient whose colours depend on seed, so
// each workload's image differs and is a real, decodable PNG.
func renderPNG(width, height int, seed string) []byte {
	h := fnv.New32a()
	h.Write([]byte(seed))
	v := h.Sum32()
	r0, g0, b0 := uint8(v), uint8(v>>8), uint8(v>>16)
	img := image.NewNRGBA(image.Rect(0, 0, width, height))
	for y := 0; y < height; y++ {
		gy := uint8(y * 255 / max(height-1, 1))
		for x := 0; x < width; x++ {
			gx := uint8(x * 255 / max(width-1, 1))
			img.SetNRGBA(x, y, color.NRGBA{R: r0 ^ gx, G: g0 ^ gy, B: b0 ^ (gx / 2) ^ (gy / 2), A: 255})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	_ = enc.Encode(&buf, img)
	return buf.Bytes()
}

// handleAssetImage serves a completed workload's image, the target of its
// completion link. Like a CDN it needs no key.
func (s *Server) handleAssetImage(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("name"), ".png")
	s.mu.Lock()
	wl := s.workloads[id]
	if wl != nil {
		s.stats.ImageDownloads++
	}
	s.mu.Unlock()
	if !ok || wl == nil || !wl.done(s.now()) || wl.fail {
		writeErr(w, http.StatusNotFound, "not_found", "no such image")
		return
	}
	body := renderPNG(wl.width, wl.height, wl.id)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

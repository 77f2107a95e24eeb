package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the pages and their assets. web/vendor holds the charting
// library's files, copied from web/dashboard/node_modules by make (see
// docs/dashboard.md, "Building the front end"); on a fresh clone that has
// not run make it holds only NOT_BUILT, and the pages say so.
//
//go:embed web
var web embed.FS

// webRoot is web/ as the root of the served files.
var webRoot = func() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	return sub
}()

// serveIndex serves the single page; the page reads its view from the URL.
func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, webRoot, "index.html")
}

// assets serves the files under /dashboard/analytics/.
func (h *Handler) assets() http.Handler {
	files := http.StripPrefix("/dashboard/analytics/", http.FileServerFS(webRoot))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dashboard/analytics/" {
			h.serveIndex(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

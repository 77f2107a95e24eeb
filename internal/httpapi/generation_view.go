package httpapi

import "github.com/gamepipe/gamepipe/internal/store"

// newGenerationView is the generation as a job object; image URLs are
// absolute under publicBase when it is set, else relative.
func newGenerationView(g *store.Generation, publicBase string) *jobView { return g.Object(publicBase) }

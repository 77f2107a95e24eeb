package jobs

import "github.com/riverqueue/river"

// GeneraitivDeps configures the image jobs (placeholder until the AI image
// issue lands).
type GeneraitivDeps struct{}

func registerGeneraitiv(*river.Workers, *Deps) error { return nil }

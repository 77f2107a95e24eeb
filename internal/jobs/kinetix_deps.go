package jobs

import "github.com/riverqueue/river"

// KinetixDeps configures the emote jobs (placeholder until the emote issue
// lands).
type KinetixDeps struct{}

func registerKinetix(*river.Workers, *Deps) error { return nil }

// Package migrations embeds gamepipe's SQL migrations. Files are named
// NNNN_name.sql and applied in lexical order by store.Migrate, together with
// River's own migrations, in one transaction under an advisory lock.
package migrations

import "embed"

// FS holds every *.sql migration.
//
//go:embed *.sql
var FS embed.FS

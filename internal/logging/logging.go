// Package logging sets up zerolog for every gamepipe process: JSON lines, or
// console-pretty on a terminal, a component field, and a slog bridge for
// River. Secrets never reach a log: log a key's Prefix, never the key.
package logging

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// New builds a logger writing to w. format is auto, json or console; auto
// picks console when w is a terminal. level is a zerolog level name.
func New(w io.Writer, format, level, component string) zerolog.Logger {
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("component", component).Logger()
}

// Slog bridges a zerolog logger to slog, for River's Config.Logger.
func Slog(logger zerolog.Logger) *slog.Logger {
	return slog.New(zerolog.NewSlogHandler(logger))
}

// Prefix is the part of a key or token that is safe to log: enough to tell
// keys apart, far too little to use one.
func Prefix(secret string) string {
	const n = 10
	if len(secret) <= n {
		return "<redacted>"
	}
	return secret[:n] + "…"
}

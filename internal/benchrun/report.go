package benchrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is one run's results: the rows, and the machine they were
// measured on.
type Report struct {
	// Rows are in the order of issue 6's table.
	Rows []Row
	// Machine describes where the run happened, in one line.
	Machine string
	// Started is when the run began.
	Started time.Time
	// Seconds is BENCH_SECONDS.
	Seconds int
}

var tableHeader = [5]string{"scenario", "gamepipe", "raw ceiling, same run", "ratio", "target"}

// WriteTable writes the rows as a Markdown table, columns padded so that it
// also reads well in a terminal.
func (r *Report) WriteTable(w io.Writer) {
	widths := [5]int{}
	all := [][5]string{tableHeader}
	for i := range r.Rows {
		all = append(all, r.Rows[i].cells())
	}
	for _, c := range all {
		for i, s := range c {
			widths[i] = max(widths[i], len([]rune(s)))
		}
	}
	line := func(c [5]string) {
		var b strings.Builder
		b.WriteString("|")
		for i, s := range c {
			b.WriteString(" " + s + strings.Repeat(" ", widths[i]-len([]rune(s))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(all[0])
	var sep [5]string
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, c := range all[1:] {
		line(c)
	}
}

// WriteMarkdown writes the report as bench/out/latest.md: the machine, the
// table and each row's note.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# gamepipe benchmarks\n\n")
	fmt.Fprintf(w, "Run %s, %d s per scenario, on %s.\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Seconds, r.Machine)
	r.WriteTable(w)
	fmt.Fprintln(w)
	for _, row := range r.Rows {
		if row.Note != "" {
			fmt.Fprintf(w, "- **%s**: %s\n", row.Scenario, row.Note)
		}
	}
}

// WriteFiles writes latest.json and latest.md into dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("error creating %s: %w", dir, err)
	}
	rows := r.Rows
	if rows == nil {
		rows = []Row{}
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // ">=" as is
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("error encoding rows: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), js.Bytes(), 0o644); err != nil {
		return fmt.Errorf("error writing latest.json: %w", err)
	}
	var md strings.Builder
	r.WriteMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("error writing latest.md: %w", err)
	}
	return nil
}

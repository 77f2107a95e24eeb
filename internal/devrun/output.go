package devrun

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// maxLine bounds how much of a line a LineWriter holds back waiting for its
// newline; a longer line is written in pieces of this size.
const maxLine = 64 << 10

// ANSI colours for labels, handed out in order of first use.
var palette = []string{"36", "33", "35", "32", "34", "91", "96", "93", "95", "92", "94"}

// Output interleaves the output of several processes on one writer, a whole
// line at a time, each line prefixed with a padded label: "api      | ...".
// It is safe for concurrent use.
type Output struct {
	mu     sync.Mutex
	w      io.Writer
	width  int
	color  bool
	colors map[string]string
}

// NewOutput writes to w with labels padded to width. With color set, each
// label gets its own ANSI colour.
func NewOutput(w io.Writer, width int, color bool) *Output {
	return &Output{w: w, width: width, color: color, colors: map[string]string{}}
}

// LineWriter returns a writer whose lines appear on o prefixed with label.
// Close writes a final line that has no newline.
func (o *Output) LineWriter(label string) *LineWriter {
	return &LineWriter{out: o, prefix: o.prefix(label)}
}

// Printf writes a message from devrun itself under label, one prefixed line
// per line of the message.
func (o *Output) Printf(label, format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	prefix := o.prefix(label)
	var b bytes.Buffer
	for line := range strings.SplitSeq(msg, "\n") {
		b.Write(prefix)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	o.write(b.Bytes())
}

// Raw writes text without a prefix, whole, between other processes' lines:
// for what a user is meant to copy, such as a ready-to-paste command.
func (o *Output) Raw(text string) {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	o.write([]byte(text))
}

func (o *Output) write(b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// An unwritable terminal is no reason to stop the stack.
	_, _ = o.w.Write(b)
}

// prefix is label padded to the output's width, coloured if enabled, and
// followed by " | ".
func (o *Output) prefix(label string) []byte {
	padded := fmt.Sprintf("%-*s", o.width, label)
	if !o.color {
		return []byte(padded + " | ")
	}
	o.mu.Lock()
	c, ok := o.colors[label]
	if !ok {
		c = palette[len(o.colors)%len(palette)]
		if label == "devrun" {
			c = "1" // bold: devrun's own lines stand out from its children's
		}
		o.colors[label] = c
	}
	o.mu.Unlock()
	return []byte("\x1b[" + c + "m" + padded + " |\x1b[0m ")
}

// LineWriter is an io.Writer that buffers a process's output until a line is
// complete, then writes the line, prefixed, to its Output in one piece, so
// lines from different processes never tear. It is safe for concurrent use.
type LineWriter struct {
	out    *Output
	prefix []byte

	mu  sync.Mutex
	buf []byte
}

// Write writes every complete line in buf+p and keeps the rest for later. It
// never fails.
func (lw *LineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(lw.buf, p...)

	var out []byte
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 && len(lw.buf) < maxLine {
			break
		}
		line := lw.buf
		rest := []byte(nil)
		switch {
		case i >= 0:
			line, rest = lw.buf[:i], lw.buf[i+1:]
		default:
			line, rest = lw.buf[:maxLine], lw.buf[maxLine:]
		}
		out = lw.appendLine(out, line)
		lw.buf = rest
	}
	if out != nil {
		lw.out.write(out)
	}
	// Keep the buffer from growing without bound over a long run.
	if len(lw.buf) == 0 {
		lw.buf = nil
	}
	return len(p), nil
}

// Close writes what is left of an unterminated last line. It never fails.
func (lw *LineWriter) Close() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.buf) > 0 {
		lw.out.write(lw.appendLine(nil, lw.buf))
		lw.buf = nil
	}
	return nil
}

func (lw *LineWriter) appendLine(dst, line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\r"))
	dst = append(dst, lw.prefix...)
	dst = append(dst, line...)
	return append(dst, '\n')
}

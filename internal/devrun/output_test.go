package devrun

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLineWriter(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"OneLine", []string{"hello\n"}, "api      | hello\n"},
		{"SplitAcrossWrites", []string{"hel", "lo wor", "ld\n"}, "api      | hello world\n"},
		{"SeveralLinesInOneWrite", []string{"a\nb\nc\n"}, "api      | a\napi      | b\napi      | c\n"},
		{"CRLF", []string{"windows\r\n"}, "api      | windows\n"},
		{"EmptyLine", []string{"\n"}, "api      | \n"},
		{"PartialLineHeldUntilClose", []string{"done\nno newline"}, "api      | done\napi      | no newline\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			lw := NewOutput(&b, 8, false).LineWriter("api")
			for _, w := range tt.writes {
				n, err := lw.Write([]byte(w))
				require.NoError(t, err)
				require.Equal(t, len(w), n)
			}
			require.NoError(t, lw.Close())
			require.Equal(t, tt.want, b.String())
		})
	}
}

func TestLineWriter_HoldsPartialLine(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	lw := NewOutput(&b, 3, false).LineWriter("api")
	_, _ = lw.Write([]byte("half a li"))
	require.Empty(t, b.String(), "nothing is written before the line ends")
	_, _ = lw.Write([]byte("ne\n"))
	require.Equal(t, "api | half a line\n", b.String())
}

func TestLineWriter_LongLineIsBounded(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	lw := NewOutput(&b, 1, false).LineWriter("x")
	_, _ = lw.Write(bytes.Repeat([]byte("y"), maxLine+10))
	require.Equal(t, "x | "+strings.Repeat("y", maxLine)+"\n", b.String())
	require.NoError(t, lw.Close())
	require.True(t, strings.HasSuffix(b.String(), "x | yyyyyyyyyy\n"))
}

// TestOutput_NoTornLines writes lines from many writers at once, each in
// small uneven chunks, and checks every line arrives whole and in order per
// writer.
func TestOutput_NoTornLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	out := NewOutput(&b, 6, false)

	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		lw := out.LineWriter(fmt.Sprintf("w%d", w))
		wg.Go(func() {
			var all strings.Builder
			for i := range lines {
				fmt.Fprintf(&all, "writer %d line %d %s\n", w, i, strings.Repeat("z", i%37))
			}
			data := []byte(all.String())
			for len(data) > 0 {
				n := min(len(data), 1+len(data)%13)
				_, _ = lw.Write(data[:n])
				data = data[n:]
			}
		})
	}
	wg.Wait()

	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, got, writers*lines)
	for _, line := range got {
		var w, i int
		label, rest, ok := strings.Cut(line, " | ")
		require.True(t, ok, "line without prefix: %q", line)
		_, err := fmt.Sscanf(rest, "writer %d line %d", &w, &i)
		require.NoError(t, err, "torn line: %q", line)
		require.Equal(t, fmt.Sprintf("%-6s", fmt.Sprintf("w%d", w)), label)
		require.Equal(t, next[w], i, "line out of order: %q", line)
		require.Equal(t, fmt.Sprintf("writer %d line %d %s", w, i, strings.Repeat("z", i%37)), rest)
		next[w]++
	}
}

func TestOutput_Printf(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	out := NewOutput(&b, 6, false)
	out.Printf("devrun", "one\ntwo %d\n", 2)
	out.Raw("curl x")
	require.Equal(t, "devrun | one\ndevrun | two 2\ncurl x\n", b.String())
}

func TestOutput_Color(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	out := NewOutput(&b, 4, true)
	out.Printf("api", "a")
	out.Printf("nats", "b")
	out.Printf("api", "c")
	require.Equal(t,
		"\x1b[36mapi  |\x1b[0m a\n\x1b[33mnats |\x1b[0m b\n\x1b[36mapi  |\x1b[0m c\n",
		b.String(), "each label keeps its own colour")
}

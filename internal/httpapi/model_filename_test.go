package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSanitizeModelFilename(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"AbsolutePath", "/etc/passwd", "passwd"},
		{"BidiOverrideDropped", "level\u202Ebolg.exe", "levelbolg.exe"},
		{"ControlCharsDropped", "le\x00ve\nl\r\t\x7f.glb", "level.glb"},
		{"DotDotOnly", "..", ""},
		{"DotsInsideCollapse", "a..b....glb", "a.b.glb"},
		{"Empty", "", ""},
		{"HeaderInjection", "x.glb\r\nSet-Cookie: a=b", "x.glbSet-Cookie_ a=b"},
		{"HiddenFileDotTrimmed", ".bashrc", "bashrc"},
		{"InvalidUTF8Dropped", "lev\xffel.obj", "level.obj"},
		{"MixedSeparators", `C:\Users\dev/../level.fbx`, "level.fbx"},
		{"Plain", "Level_1.glb", "Level_1.glb"},
		{"QuotesAndReservedReplaced", `a"b<c>d|e?f*g:h.obj`, "a_b_c_d_e_f_g_h.obj"},
		{"TrailingDotsAndSpaces", "level.glb. . ", "level.glb"},
		{"TraversalUnix", "../../etc/passwd.glb", "passwd.glb"},
		{"TraversalWindows", `..\..\x.obj`, "x.obj"},
		{"TrailingSeparator", "dir/", ""},
		{"Unicode", "niveau-été.gltf", "niveau-été.gltf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sanitizeFilename(tt.raw))
		})
	}

	t.Run("LongNameKeepsExtension", func(t *testing.T) {
		t.Parallel()
		got := sanitizeFilename(strings.Repeat("é", 300) + ".gltf")
		require.LessOrEqual(t, len(got), maxFilenameBytes)
		require.True(t, utf8.ValidString(got))
		require.True(t, strings.HasSuffix(got, "é.gltf"), got)
	})

	t.Run("NeverAPath", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{"a/b", `a\b`, "../..", `..\..\`, "/", "x/../../y", "....//....//z", "%2e%2e%2fz"} {
			got := sanitizeFilename(raw)
			require.NotContains(t, got, "/", raw)
			require.NotContains(t, got, `\`, raw)
			require.NotContains(t, got, "..", raw)
		}
	})
}

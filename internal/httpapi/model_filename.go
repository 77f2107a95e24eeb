package httpapi

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFilenameBytes caps a recorded filename (the column allows 255).
const maxFilenameBytes = 200

// sanitizeFilename turns a client's filename into something safe to record
// and to echo in a Content-Disposition header. Storage never uses it (blobs
// are addressed by content hash), so this is about display, not paths; it
// still leaves nothing that looks like one:
//   - only the base name is kept, splitting on both "/" and "\" (a Windows
//     client's path arrives with backslashes, which filepath.Base on Linux
//     would keep);
//   - control and invisible formatting characters (bidi overrides that
//     disguise an extension) are dropped, invalid UTF-8 too;
//   - characters Windows refuses in names become "_";
//   - ".." runs collapse to ".", and leading or trailing dots and spaces go;
//   - the result is capped at maxFilenameBytes, keeping a short extension.
//
// It may return "" (for "..", say); callers then use a generated name.
func sanitizeFilename(raw string) string {
	name := strings.ToValidUTF8(raw, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1
		case strings.ContainsRune(`:*?"<>|`, r):
			return '_'
		}
		return r
	}, name)
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", ".")
	}
	name = strings.Trim(name, ". ")
	if len(name) <= maxFilenameBytes {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := name[:maxFilenameBytes-len(ext)]
	for !utf8.ValidString(stem) {
		stem = stem[:len(stem)-1]
	}
	return strings.TrimRight(stem, ". ") + ext
}

package httpapi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Minimal files of each format, as the model tests upload them.
var (
	testGLB       = append([]byte("glTF\x02\x00\x00\x00\x40\x00\x00\x00"), bytes.Repeat([]byte{0}, 52)...)
	testGLTF      = []byte("{\n  \"asset\": {\"version\": \"2.0\", \"generator\": \"test\"},\n  \"scenes\": [{\"nodes\": []}]\n}\n")
	testOBJ       = []byte("# Blender OBJ\nmtllib level.mtl\no Cube\nv 1.0 1.0 -1.0\nv 1.0 -1.0 -1.0\nv -1.0 1.0 1.0\nvn 0 1 0\nusemtl Material\ns off\nf 1//1 2//1 3//1\n")
	testFBX       = append([]byte("Kaydara FBX Binary  \x00\x1a\x00\xe8\x1c\x00\x00"), bytes.Repeat([]byte{1}, 64)...)
	testFBXASCII  = []byte("; FBX 7.4.0 project file\n; ----------------------------------------------------\n\nFBXHeaderExtension:  {\n}\n")
	testNotAModel = []byte("MZ\x90\x00\x03\x00\x00\x00 this is not a model")
)

func TestSniffModelFormat(t *testing.T) {
	t.Parallel()

	longComments := strings.Repeat("# a long exporter header comment line\n", 200) + "v 1 2 3\n"
	truncatedOBJ := []byte(strings.Repeat("v 1.000000 2.000000 3.000000\n", 200))[:modelSniffLen]

	tests := []struct {
		name   string
		head   []byte
		want   modelFormat
		wantOK bool
	}{
		{"ASCIIFBX", testFBXASCII, modelFormatFBX, true},
		{"BinaryFBX", testFBX, modelFormatFBX, true},
		{"Empty", nil, "", false},
		{"Executable", testNotAModel, "", false},
		{"GLB", testGLB, modelFormatGLB, true},
		{"GLTF", testGLTF, modelFormatGLTF, true},
		{"GLTFWithBOMAndWhitespace", append([]byte("\xef\xbb\xbf \r\n"), testGLTF...), modelFormatGLTF, true},
		{"HTML", []byte("<!doctype html><html><body>asset</body></html>"), "", false},
		{"JSONWithoutAsset", []byte(`{"scenes": []}`), "", false},
		{"OBJ", testOBJ, modelFormatOBJ, true},
		{"OBJCRLF", bytes.ReplaceAll(testOBJ, []byte("\n"), []byte("\r\n")), modelFormatOBJ, true},
		{"OBJCutMidLine", truncatedOBJ, modelFormatOBJ, true},
		{"OBJOnlyComments", []byte("# just a comment\n# and another\n"), "", false},
		// A known limit: a comment header longer than the sniff window.
		{"OBJOnlyCommentsInSniffWindow", []byte(longComments)[:modelSniffLen], "", false},
		{"OBJWithNUL", []byte("v 1 2 3\n\x00\n"), "", false},
		{"PlainText", []byte("hello world\nthis is prose\n"), "", false},
		{"ShellScript", []byte("#!/bin/sh\nrm -rf /\n"), "", false},
		{"TruncatedFBXMagic", []byte("Kaydara FBX"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := sniffModelFormat(tt.head)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("ContentTypes", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "model/gltf-binary", modelFormatGLB.contentType())
		require.Equal(t, "model/gltf+json", modelFormatGLTF.contentType())
		require.Equal(t, "model/obj", modelFormatOBJ.contentType())
		require.Equal(t, "application/octet-stream", modelFormatFBX.contentType())
	})
}

package httpapi

import (
	"bytes"
)

// modelFormat is a level model's file format, sniffed from its first bytes;
// the client's filename and part Content-Type are never trusted for it.
type modelFormat string

// The formats POST /api/models accepts.
const (
	modelFormatGLB  modelFormat = "glb"
	modelFormatGLTF modelFormat = "gltf"
	modelFormatOBJ  modelFormat = "obj"
	modelFormatFBX  modelFormat = "fbx"
)

// modelSniffLen is how many leading bytes sniffModelFormat looks at.
const modelSniffLen = 4096

var (
	utf8BOM         = []byte("\xef\xbb\xbf")
	fbxBinaryMagic  = []byte("Kaydara FBX Binary  \x00")
	fbxASCIIMagic   = []byte("; FBX")
	glbMagic        = []byte("glTF")
	gltfAssetMarker = []byte(`"asset"`)
)

// objKeywords start the statements of a Wavefront OBJ file ("#" starts a
// comment).
var objKeywords = map[string]bool{
	"v": true, "vn": true, "vt": true, "vp": true, "f": true, "l": true, "p": true,
	"o": true, "g": true, "s": true, "mg": true, "mtllib": true, "usemtl": true, "maplib": true, "usemap": true,
	"lod": true, "cstype": true, "deg": true, "bmat": true, "step": true, "curv": true, "curv2": true,
	"surf": true, "parm": true, "trim": true, "hole": true, "scrv": true, "sp": true, "end": true, "con": true,
	"bevel": true, "c_interp": true, "d_interp": true, "shadow_obj": true, "trace_obj": true, "ctech": true, "stech": true,
}

// sniffModelFormat decides a model's format from head, its first bytes (at
// most modelSniffLen), and reports false for anything else.
//   - GLB: the binary glTF magic "glTF".
//   - FBX: the binary header "Kaydara FBX Binary  \x00", or an ASCII FBX's
//     "; FBX" comment.
//   - glTF: JSON (after an optional BOM and whitespace, a "{") with an
//     "asset" key in the head.
//   - OBJ: text whose every complete line in the head is blank or starts with
//     an OBJ keyword, at least one of them not a comment.
func sniffModelFormat(head []byte) (modelFormat, bool) {
	switch {
	case bytes.HasPrefix(head, glbMagic):
		return modelFormatGLB, true
	case bytes.HasPrefix(head, fbxBinaryMagic):
		return modelFormatFBX, true
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	switch {
	case bytes.HasPrefix(text, fbxASCIIMagic):
		return modelFormatFBX, true
	case bytes.HasPrefix(text, []byte("{")) && bytes.Contains(text, gltfAssetMarker):
		return modelFormatGLTF, true
	case looksLikeOBJ(text, len(head) == modelSniffLen):
		return modelFormatOBJ, true
	}
	return "", false
}

// looksLikeOBJ checks OBJ's line structure. When the head was cut at
// modelSniffLen, its last line may be partial and is not judged.
func looksLikeOBJ(text []byte, truncated bool) bool {
	if bytes.IndexByte(text, 0) >= 0 {
		return false
	}
	lines := bytes.Split(text, []byte("\n"))
	if truncated && len(lines) > 1 {
		lines = lines[:len(lines)-1]
	}
	statements := 0
	for _, line := range lines {
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		kw := string(fields[0])
		if kw[0] == '#' {
			continue
		}
		if !objKeywords[kw] {
			return false
		}
		statements++
	}
	return statements > 0
}

// contentType is the media type a model of this format is served with.
func (f modelFormat) contentType() string {
	switch f {
	case modelFormatGLB:
		return "model/gltf-binary"
	case modelFormatGLTF:
		return "model/gltf+json"
	case modelFormatOBJ:
		return "model/obj"
	default:
		return "application/octet-stream" // FBX has no registered type
	}
}

package demodata

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// glbDoc is the part of a glTF document the test reads back.
type glbDoc struct {
	Asset struct {
		Version string `json:"version"`
	} `json:"asset"`
	Meshes []struct {
		Primitives []struct {
			Attributes map[string]int `json:"attributes"`
			Indices    int            `json:"indices"`
		} `json:"primitives"`
	} `json:"meshes"`
	Accessors []struct {
		BufferView    int       `json:"bufferView"`
		ComponentType int       `json:"componentType"`
		Count         int       `json:"count"`
		Type          string    `json:"type"`
		Min           []float32 `json:"min"`
		Max           []float32 `json:"max"`
	} `json:"accessors"`
	BufferViews []struct {
		Buffer     int `json:"buffer"`
		ByteOffset int `json:"byteOffset"`
		ByteLength int `json:"byteLength"`
	} `json:"bufferViews"`
	Buffers []struct {
		ByteLength int    `json:"byteLength"`
		URI        string `json:"uri"`
	} `json:"buffers"`
}

// triangle is three vertices and the normal the file gives them.
type triangle struct {
	p      [3][3]float32
	normal [3]float32
}

// faceAgrees reports whether the triangle's corners turn counter-clockwise
// seen from the side its normal points to (front faces in glTF and OBJ).
func (tr triangle) faceAgrees() bool {
	var e1, e2 [3]float32
	for a := range 3 {
		e1[a], e2[a] = tr.p[1][a]-tr.p[0][a], tr.p[2][a]-tr.p[0][a]
	}
	cross := [3]float32{e1[1]*e2[2] - e1[2]*e2[1], e1[2]*e2[0] - e1[0]*e2[2], e1[0]*e2[1] - e1[1]*e2[0]}
	return cross[0]*tr.normal[0]+cross[1]*tr.normal[1]+cross[2]*tr.normal[2] > 0
}

// readGLB checks a GLB's container (header, chunk types, lengths and
// padding) and the document's accessors against the bytes they describe,
// and returns its triangles.
func readGLB(t *testing.T, b []byte) []triangle {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 28)
	le := binary.LittleEndian
	require.Equal(t, uint32(0x46546C67), le.Uint32(b[0:]), "magic")
	require.Equal(t, uint32(2), le.Uint32(b[4:]), "version")
	require.Equal(t, uint32(len(b)), le.Uint32(b[8:]), "length")

	jsonLen := int(le.Uint32(b[12:]))
	require.Equal(t, uint32(0x4E4F534A), le.Uint32(b[16:]), "first chunk is JSON")
	require.Zero(t, jsonLen%4, "JSON chunk length is a multiple of 4")
	jsonChunk := b[20 : 20+jsonLen]
	trimmed := bytes.TrimRight(jsonChunk, " ")
	require.Less(t, len(jsonChunk)-len(trimmed), 4, "at most 3 bytes of padding")
	require.True(t, json.Valid(trimmed))

	rest := b[20+jsonLen:]
	binLen := int(le.Uint32(rest[0:]))
	require.Equal(t, uint32(0x004E4942), le.Uint32(rest[4:]), "second chunk is BIN")
	require.Zero(t, binLen%4, "BIN chunk length is a multiple of 4")
	require.Len(t, rest, 8+binLen, "the BIN chunk ends the file")
	bin := rest[8:]

	var doc glbDoc
	require.NoError(t, json.Unmarshal(trimmed, &doc))
	require.Equal(t, "2.0", doc.Asset.Version)
	require.Len(t, doc.Buffers, 1)
	require.Empty(t, doc.Buffers[0].URI, "the GLB's buffer is its BIN chunk")
	require.LessOrEqual(t, doc.Buffers[0].ByteLength, binLen)
	require.Less(t, binLen-doc.Buffers[0].ByteLength, 4)
	require.Equal(t, make([]byte, binLen-doc.Buffers[0].ByteLength), bin[doc.Buffers[0].ByteLength:], "BIN padding is zeros")

	floats := func(acc int) []float32 {
		a := doc.Accessors[acc]
		require.Equal(t, 5126, a.ComponentType)
		require.Equal(t, "VEC3", a.Type)
		v := doc.BufferViews[a.BufferView]
		require.Zero(t, v.ByteOffset%4)
		require.Equal(t, a.Count*12, v.ByteLength)
		require.LessOrEqual(t, v.ByteOffset+v.ByteLength, doc.Buffers[0].ByteLength)
		out := make([]float32, a.Count*3)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(bin[v.ByteOffset+4*i:]))
		}
		return out
	}
	var tris []triangle
	for _, m := range doc.Meshes {
		for _, p := range m.Primitives {
			pos, nrm := floats(p.Attributes["POSITION"]), floats(p.Attributes["NORMAL"])
			lo, hi := bounds(pos)
			pa := doc.Accessors[p.Attributes["POSITION"]]
			require.Equal(t, lo[:], pa.Min, "POSITION min")
			require.Equal(t, hi[:], pa.Max, "POSITION max")

			ia := doc.Accessors[p.Indices]
			require.Equal(t, 5123, ia.ComponentType)
			require.Equal(t, "SCALAR", ia.Type)
			require.Zero(t, ia.Count%3)
			iv := doc.BufferViews[ia.BufferView]
			require.Equal(t, ia.Count*2, iv.ByteLength)
			for i := 0; i < ia.Count; i += 3 {
				var tr triangle
				for c := range 3 {
					k := int(le.Uint16(bin[iv.ByteOffset+2*(i+c):]))
					require.Less(t, k, pa.Count, "index in range")
					copy(tr.p[c][:], pos[3*k:3*k+3])
					copy(tr.normal[:], nrm[3*k:3*k+3])
				}
				tris = append(tris, tr)
			}
		}
	}
	return tris
}

// readOBJ reads the v, vn and f lines of an OBJ whose faces are v//vn
// triangles.
func readOBJ(t *testing.T, b []byte) (pos []float32, tris []triangle) {
	t.Helper()
	var nrm []float32
	sc := bufio.NewScanner(bytes.NewReader(b))
	num := func(s string) float32 {
		f, err := strconv.ParseFloat(s, 32)
		require.NoError(t, err, s)
		return float32(f)
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "v":
			pos = append(pos, num(f[1]), num(f[2]), num(f[3]))
		case "vn":
			nrm = append(nrm, num(f[1]), num(f[2]), num(f[3]))
		case "f":
			require.Len(t, f, 4, "a triangle")
			var tr triangle
			for c, ref := range f[1:] {
				vi, ni, ok := strings.Cut(ref, "//")
				require.True(t, ok, ref)
				v, err := strconv.Atoi(vi)
				require.NoError(t, err)
				n, err := strconv.Atoi(ni)
				require.NoError(t, err)
				require.True(t, v >= 1 && 3*v <= len(pos) && n >= 1 && 3*n <= len(nrm), "face refers to an earlier vertex: %s", ref)
				copy(tr.p[c][:], pos[3*v-3:3*v])
				copy(tr.normal[:], nrm[3*n-3:3*n])
			}
			tris = append(tris, tr)
		case "#", "o":
		default:
			t.Fatalf("unexpected OBJ line %q", sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return pos, tris
}

func TestLevelModel(t *testing.T) {
	t.Parallel()

	t.Run("DemoLevelsDifferAndRepeat", func(t *testing.T) {
		t.Parallel()

		a, b := DemoLevel("Level_1"), DemoLevel("Level_2")
		require.Equal(t, a, DemoLevel("Level_1"))
		require.NotEqual(t, a.Boxes, b.Boxes)
		for _, box := range a.Boxes {
			for axis := range 3 {
				require.Less(t, box.Min[axis], box.Max[axis])
			}
			require.GreaterOrEqual(t, box.Min[0], 0.0)
			require.LessOrEqual(t, box.Max[0], a.Width)
			require.GreaterOrEqual(t, box.Min[2], 0.0)
			require.LessOrEqual(t, box.Max[2], a.Depth)
		}
		require.True(t, a.Blocked(0.5, 50), "the west wall")
		require.False(t, a.Blocked(-5, 50))
	})

	t.Run("GLBParsesBack", func(t *testing.T) {
		t.Parallel()

		m := DemoLevel("Level_1")
		b, err := m.GLB()
		require.NoError(t, err)
		tris := readGLB(t, b)
		require.Len(t, tris, 2+12*len(m.Boxes), "the floor's two triangles and twelve per box")
		for i, tr := range tris {
			require.True(t, tr.faceAgrees(), "triangle %d turns the way its normal points", i)
		}
		var all []float32
		for _, tr := range tris {
			for _, p := range tr.p {
				all = append(all, p[:]...)
			}
		}
		lo, hi := bounds(all)
		require.Equal(t, [3]float32{0, 0, 0}, lo)
		require.Equal(t, float32(100), hi[0])
		require.Equal(t, float32(100), hi[2])
	})

	t.Run("OBJHasTheSameTriangles", func(t *testing.T) {
		t.Parallel()

		m := DemoLevel("Level_3_Jungle")
		glb, err := m.GLB()
		require.NoError(t, err)
		want := readGLB(t, glb)
		pos, got := readOBJ(t, m.OBJ())
		require.Equal(t, want, got)
		require.Len(t, pos, 3*(4+24*len(m.Boxes)))
		require.True(t, bytes.HasPrefix(m.OBJ(), []byte("# ")), "sniffed as OBJ: comments and keywords only")
	})

	t.Run("PaddingIsSpacesAndZeros", func(t *testing.T) {
		t.Parallel()

		// Widths of 2 to 5 digits: the JSON's length takes every value
		// modulo 4, so most need padding.
		padded := 0
		for _, w := range []float64{10, 10.5, 10.25, 10.125} {
			m := &LevelModel{Width: w, Depth: 7.25, Boxes: []Box{{Max: [3]float64{1, 2, 3}}}}
			b, err := m.GLB()
			require.NoError(t, err)
			readGLB(t, b)
			jsonLen := binary.LittleEndian.Uint32(b[12:])
			if b[20+jsonLen-1] == ' ' {
				padded++
			}
		}
		require.Positive(t, padded, "some JSON chunk needed padding")
	})
}

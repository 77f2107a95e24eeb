package demodata

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// LevelModel is a small level's geometry, y up, in the level's own units: a
// floor from (0, 0, 0) to (Width, 0, Depth) and boxes standing on it (walls
// around the edge, blocks inside). It encodes as a binary glTF 2.0 file
// (GLB) or a Wavefront OBJ of the same triangles, for the dashboard's
// Levels page and its tests (docs/dashboard.md, "Levels").
type LevelModel struct {
	Width, Depth float64
	Boxes        []Box
}

// Box is an axis-aligned box from Min to Max.
type Box struct {
	Min, Max [3]float64
}

// DemoLevel is the model of a demo level: a 100 × 100 floor, the area the
// demo players move in, with low walls around it and a few blocks placed
// by the level's name, so each level looks its own and the same every time.
func DemoLevel(name string) *LevelModel {
	h := fnv.New64a()
	h.Write([]byte(name))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const size, wall, wallHeight = 100.0, 1.0, 3.0
	m := &LevelModel{Width: size, Depth: size, Boxes: []Box{
		{Min: [3]float64{0, 0, 0}, Max: [3]float64{size, wallHeight, wall}},
		{Min: [3]float64{0, 0, size - wall}, Max: [3]float64{size, wallHeight, size}},
		{Min: [3]float64{0, 0, wall}, Max: [3]float64{wall, wallHeight, size - wall}},
		{Min: [3]float64{size - wall, 0, wall}, Max: [3]float64{size, wallHeight, size - wall}},
	}}
	for range 6 {
		w, d := 6+rng.Float64()*14, 6+rng.Float64()*14
		x, z := 10+rng.Float64()*(size-20-w), 10+rng.Float64()*(size-20-d)
		m.Boxes = append(m.Boxes, Box{Min: [3]float64{x, 0, z}, Max: [3]float64{x + w, 3 + rng.Float64()*9, z + d}})
	}
	return m
}

// Blocked reports whether the point (x, z) of the floor is inside a box.
func (m *LevelModel) Blocked(x, z float64) bool {
	for _, b := range m.Boxes {
		if x >= b.Min[0] && x <= b.Max[0] && z >= b.Min[2] && z <= b.Max[2] {
			return true
		}
	}
	return false
}

// mesh is triangles with flat normals: three floats per vertex, three
// indices per triangle.
type mesh struct {
	pos, nrm []float32
	idx      []uint16
}

// quad adds the face of a box (or the floor) whose normal points along
// axis (0 x, 1 y, 2 z) with sign, at coordinate at on that axis, spanning
// [u0, u1] × [v0, v1] on the other two axes. Its corners go counter-clockwise
// seen from the side the normal points to, as glTF's front faces do.
func (m *mesh) quad(axis int, sign float64, at float64, u0, u1, v0, v1 float64) {
	// u × v points along +axis; swapping them flips it for the − side.
	u, v := (axis+1)%3, (axis+2)%3
	if sign < 0 {
		u, v = v, u
		u0, u1, v0, v1 = v0, v1, u0, u1
	}
	base := uint16(len(m.pos) / 3)
	for _, c := range [4][2]float64{{u0, v0}, {u1, v0}, {u1, v1}, {u0, v1}} {
		var p, n [3]float32
		p[axis], p[u], p[v] = float32(at), float32(c[0]), float32(c[1])
		n[axis] = float32(sign)
		m.pos = append(m.pos, p[:]...)
		m.nrm = append(m.nrm, n[:]...)
	}
	m.idx = append(m.idx, base, base+1, base+2, base, base+2, base+3)
}

// box adds the six faces of b.
func (m *mesh) box(b Box) {
	for axis := range 3 {
		u, v := (axis+1)%3, (axis+2)%3
		m.quad(axis, 1, b.Max[axis], b.Min[u], b.Max[u], b.Min[v], b.Max[v])
		m.quad(axis, -1, b.Min[axis], b.Min[u], b.Max[u], b.Min[v], b.Max[v])
	}
}

// meshes are the floor's and the boxes' triangles.
func (m *LevelModel) meshes() (floor, boxes *mesh) {
	floor, boxes = &mesh{}, &mesh{}
	// The floor's normal is +y: u is z, v is x.
	floor.quad(1, 1, 0, 0, m.Depth, 0, m.Width)
	for _, b := range m.Boxes {
		boxes.box(b)
	}
	return floor, boxes
}

// bounds gives the smallest and largest coordinate of each axis of the
// vertices pos holds.
func bounds(pos []float32) (lo, hi [3]float32) {
	for a := range 3 {
		lo[a], hi[a] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	for i := 0; i < len(pos); i += 3 {
		for a := range 3 {
			lo[a], hi[a] = min(lo[a], pos[i+a]), max(hi[a], pos[i+a])
		}
	}
	return lo, hi
}

// glTF's constants this file uses.
const (
	glbMagic          = 0x46546C67 // "glTF"
	glbChunkJSON      = 0x4E4F534A // "JSON"
	glbChunkBIN       = 0x004E4942 // "BIN\0"
	gltfFloat         = 5126
	gltfUnsignedShort = 5123
	gltfArrayBuffer   = 34962
	gltfElementBuffer = 34963
)

// GLB encodes the model as binary glTF 2.0: one node and mesh for the floor
// and one for the boxes, each with POSITION (with its min and max, as the
// specification requires), NORMAL and 16-bit indices, in one buffer; the
// JSON chunk is padded with spaces and the BIN chunk with zeros to four
// bytes.
func (m *LevelModel) GLB() ([]byte, error) {
	floor, boxes := m.meshes()
	if len(boxes.pos)/3 > math.MaxUint16 {
		return nil, fmt.Errorf("demodata: %d vertices do not fit 16-bit indices", len(boxes.pos)/3)
	}
	var (
		bin         bytes.Buffer
		views       []map[string]any
		accessors   []map[string]any
		meshesJSON  []map[string]any
		nodes       []map[string]any
		materials   []map[string]any
		addView     func(data any, target int) int
		addAccessor func(view, count int, typ string, component int, lo, hi []float32) int
	)
	addView = func(data any, target int) int {
		start := bin.Len()
		_ = binary.Write(&bin, binary.LittleEndian, data) // a bytes.Buffer never fails
		views = append(views, map[string]any{"buffer": 0, "byteOffset": start, "byteLength": bin.Len() - start, "target": target})
		for bin.Len()%4 != 0 {
			bin.WriteByte(0) // the next view starts 4-byte aligned
		}
		return len(views) - 1
	}
	addAccessor = func(view, count int, typ string, component int, lo, hi []float32) int {
		a := map[string]any{"bufferView": view, "componentType": component, "count": count, "type": typ}
		if lo != nil {
			a["min"], a["max"] = lo, hi
		}
		accessors = append(accessors, a)
		return len(accessors) - 1
	}
	parts := []struct {
		name  string
		mesh  *mesh
		color [4]float64
	}{{"floor", floor, [4]float64{0.55, 0.57, 0.6, 1}}, {"blocks", boxes, [4]float64{0.78, 0.66, 0.48, 1}}}
	for i, p := range parts {
		lo, hi := bounds(p.mesh.pos)
		pos := addAccessor(addView(p.mesh.pos, gltfArrayBuffer), len(p.mesh.pos)/3, "VEC3", gltfFloat, lo[:], hi[:])
		nrm := addAccessor(addView(p.mesh.nrm, gltfArrayBuffer), len(p.mesh.nrm)/3, "VEC3", gltfFloat, nil, nil)
		idx := addAccessor(addView(p.mesh.idx, gltfElementBuffer), len(p.mesh.idx), "SCALAR", gltfUnsignedShort, nil, nil)
		materials = append(materials, map[string]any{"name": p.name, "pbrMetallicRoughness": map[string]any{
			"baseColorFactor": p.color, "metallicFactor": 0, "roughnessFactor": 1}})
		meshesJSON = append(meshesJSON, map[string]any{"name": p.name, "primitives": []map[string]any{{
			"attributes": map[string]int{"POSITION": pos, "NORMAL": nrm}, "indices": idx, "material": i}}})
		nodes = append(nodes, map[string]any{"name": p.name, "mesh": i})
	}
	doc := map[string]any{
		"asset":       map[string]string{"version": "2.0", "generator": "gamepipe demodata"},
		"scene":       0,
		"scenes":      []map[string]any{{"name": "level", "nodes": []int{0, 1}}},
		"nodes":       nodes,
		"meshes":      meshesJSON,
		"materials":   materials,
		"accessors":   accessors,
		"bufferViews": views,
		"buffers":     []map[string]int{{"byteLength": bin.Len()}},
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("demodata: encoding the glTF JSON: %w", err)
	}
	for len(js)%4 != 0 {
		js = append(js, ' ')
	}
	binData := bin.Bytes() // already a multiple of 4 bytes long
	total := 12 + 8 + len(js) + 8 + len(binData)
	out := make([]byte, 0, total)
	out = binary.LittleEndian.AppendUint32(out, glbMagic)
	out = binary.LittleEndian.AppendUint32(out, 2)
	out = binary.LittleEndian.AppendUint32(out, uint32(total))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = binary.LittleEndian.AppendUint32(out, glbChunkJSON)
	out = append(out, js...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(binData)))
	out = binary.LittleEndian.AppendUint32(out, glbChunkBIN)
	out = append(out, binData...)
	return out, nil
}

// OBJ encodes the same triangles as a Wavefront OBJ: an object per part,
// positions, one normal per face and faces of three vertices (1-based).
func (m *LevelModel) OBJ() []byte {
	floor, boxes := m.meshes()
	var b bytes.Buffer
	b.WriteString("# gamepipe demo level\n")
	vertices := 0
	for _, p := range []struct {
		name string
		mesh *mesh
	}{{"floor", floor}, {"blocks", boxes}} {
		fmt.Fprintf(&b, "o %s\n", p.name)
		for i := 0; i < len(p.mesh.pos); i += 3 {
			fmt.Fprintf(&b, "v %g %g %g\n", p.mesh.pos[i], p.mesh.pos[i+1], p.mesh.pos[i+2])
		}
		for i := 0; i < len(p.mesh.nrm); i += 3 {
			fmt.Fprintf(&b, "vn %g %g %g\n", p.mesh.nrm[i], p.mesh.nrm[i+1], p.mesh.nrm[i+2])
		}
		for i := 0; i < len(p.mesh.idx); i += 3 {
			b.WriteString("f")
			for _, k := range p.mesh.idx[i : i+3] {
				n := vertices + int(k) + 1
				fmt.Fprintf(&b, " %d//%d", n, n)
			}
			b.WriteByte('\n')
		}
		vertices += len(p.mesh.pos) / 3
	}
	return b.Bytes()
}

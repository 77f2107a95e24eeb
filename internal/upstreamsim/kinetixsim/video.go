package kinetixsim

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// sniffFormat names the container of a video from its first bytes (up to
// 4 KiB): avi, flv, mkv, webm, mp4, mov or ts; "" when none matches. These
// are the formats the document lists as supported.
func sniffFormat(head []byte) string {
	switch {
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("AVI ")):
		return "avi"
	case len(head) >= 4 && bytes.Equal(head[:3], []byte("FLV")) && head[3] == 1:
		return "flv"
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1a, 0x45, 0xdf, 0xa3}):
		if bytes.Contains(head, []byte("webm")) {
			return "webm"
		}
		return "mkv"
	case len(head) >= 12 && bytes.Equal(head[4:8], []byte("ftyp")):
		if bytes.Equal(head[8:12], []byte("qt  ")) {
			return "mov"
		}
		return "mp4"
	case len(head) >= 8 && (bytes.Equal(head[4:8], []byte("moov")) || bytes.Equal(head[4:8], []byte("mdat")) ||
		bytes.Equal(head[4:8], []byte("wide")) || bytes.Equal(head[4:8], []byte("free"))):
		return "mov" // QuickTime files from before the ftyp box
	case isTS(head, 0, 188) || isTS(head, 4, 192):
		return "ts"
	}
	return ""
}

// isTS reports MPEG transport stream sync bytes at off, off+size and, when
// there are that many bytes, off+2*size.
func isTS(head []byte, off, size int) bool {
	if len(head) < off+size+1 {
		return false
	}
	for i := off; i < len(head) && i <= off+2*size; i += size {
		if head[i] != 0x47 {
			return false
		}
	}
	return true
}

var clockRE = regexp.MustCompile(`^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$`)

// parseClock reads "HH:MM:SS.mmm" into milliseconds.
func parseClock(s string) (int64, error) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New(`want "HH:MM:SS.mmm", such as "00:00:02.000"`)
	}
	var parts [4]int64
	for i := range parts {
		v, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad number %q", m[i+1])
		}
		parts[i] = v
	}
	return ((parts[0]*60+parts[1])*60+parts[2])*1000 + parts[3], nil
}

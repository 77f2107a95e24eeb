package telemetry

import "strconv"

// MessagePack format bytes used by the reader and the stored encoding.
const (
	mpNil     = 0xc0
	mpFalse   = 0xc2
	mpTrue    = 0xc3
	mpBin8    = 0xc4
	mpBin16   = 0xc5
	mpBin32   = 0xc6
	mpExt8    = 0xc7
	mpExt16   = 0xc8
	mpExt32   = 0xc9
	mpFloat32 = 0xca
	mpFloat64 = 0xcb
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpFixExt1 = 0xd4
	mpFixExt4 = 0xd6
	mpFixExt8 = 0xd7
	mpFix16   = 0xd8
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

func errTruncated(what string) *ValidationError {
	return newError(CodeInvalidMsgpack, "", "truncated MessagePack: expected "+what+" but the body ended")
}

// typeName names the MessagePack type of a format byte, for error messages.
func typeName(c byte) string {
	switch {
	case c <= 0x7f || c >= 0xe0 || (c >= mpUint8 && c <= mpInt64):
		return "an integer"
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		return "a map"
	case c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32:
		return "an array"
	case c&0xe0 == 0xa0 || (c >= mpStr8 && c <= mpStr32):
		return "a string"
	case c == mpNil:
		return "nil"
	case c == mpFalse || c == mpTrue:
		return "a boolean"
	case c >= mpBin8 && c <= mpBin32:
		return "binary data"
	case c == mpFloat32 || c == mpFloat64:
		return "a float"
	case (c >= mpExt8 && c <= mpExt32) || (c >= mpFixExt1 && c <= mpFix16):
		return "an extension value"
	}
	return "the reserved byte 0x" + strconv.FormatUint(uint64(c), 16)
}

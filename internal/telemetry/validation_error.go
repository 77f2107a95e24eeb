package telemetry

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes of a ValidationError. The HTTP API answers every one of them
// with 400; the code goes into the JSON body as is.
const (
	// CodeEmptyBody: the request body has no bytes.
	CodeEmptyBody = "empty_body"
	// CodeInvalidMsgpack: the body is not well-formed MessagePack (truncated,
	// a reserved byte, a length that does not fit in the body, trailing
	// bytes), or its top-level value is neither a map nor an array.
	CodeInvalidMsgpack = "invalid_msgpack"
	// CodeTooDeep: maps and arrays nest deeper than Limits.MaxDepth.
	CodeTooDeep = "too_deep"
	// CodeBatchTooLarge: a batch has more than Limits.MaxBatch events.
	CodeBatchTooLarge = "batch_too_large"
	// CodeBatchEmpty: the body is an empty array.
	CodeBatchEmpty = "batch_empty"
	// CodeUnknownEventType: no rule of the type inference matched.
	CodeUnknownEventType = "unknown_event_type"
	// CodeMissingField: a required field is absent, nil or an empty string.
	CodeMissingField = "missing_field"
	// CodeInvalidField: a field has the wrong type or an invalid value.
	CodeInvalidField = "invalid_field"
	// CodeTooLarge: a string, custom_data, hardware or positions is over
	// its limit.
	CodeTooLarge = "too_large"
)

// ValidationError is a client mistake found while decoding a request body.
// Every error that Decode returns is a *ValidationError.
type ValidationError struct {
	// Index is the position of the offending event in a batch, or -1 when
	// the body was a single event or the problem is the body as a whole.
	Index int
	// Field is the path of the offending key, such as "position",
	// "fps.low_5" or "custom_data.items[2].name". It is "" when the problem
	// is not inside one field.
	Field string
	// Code is one of the Code* constants.
	Code string
	// Message is a human-readable sentence naming the problem.
	Message string
}

// Error returns the message, prefixed with the batch index when there is one
// and followed by the code.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		b.WriteString("event ")
		b.WriteString(strconv.Itoa(e.Index))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	b.WriteString(" (")
	b.WriteString(e.Code)
	b.WriteString(")")
	return b.String()
}

// AsValidationError returns the *ValidationError in err's chain, if any.
func AsValidationError(err error) (*ValidationError, bool) {
	return errors.AsType[*ValidationError](err)
}

// newError builds a ValidationError that Decode later stamps with the batch
// index. Errors are only built on the failure path, so their allocations do
// not matter.
func newError(code, field, msg string) *ValidationError {
	return &ValidationError{Index: -1, Field: field, Code: code, Message: msg}
}

// withField sets the field of an error raised below a key, keeping any
// deeper path: err's field "weapon" under "custom_data" becomes
// "custom_data.weapon", "[3]" becomes "custom_data[3]".
func withField(err *ValidationError, field string) *ValidationError {
	switch {
	case err.Field == "":
		err.Field = field
	case strings.HasPrefix(err.Field, "["):
		err.Field = field + err.Field
	default:
		err.Field = field + "." + err.Field
	}
	return err
}

// printableKey turns an arbitrary map key into something safe to echo back
// in a JSON error: valid UTF-8, at most 64 bytes.
func printableKey(key []byte) string {
	const maxKey = 64
	if len(key) > maxKey {
		key = key[:maxKey]
		// Drop a rune the cut split in half.
		for i := len(key) - 1; i >= 0 && i >= len(key)-utf8.UTFMax; i-- {
			if utf8.RuneStart(key[i]) {
				if !utf8.FullRune(key[i:]) {
					key = key[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(key), "\uFFFD")
}

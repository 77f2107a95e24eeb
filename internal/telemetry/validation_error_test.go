package telemetry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidationError(t *testing.T) {
	t.Parallel()

	t.Run("AsValidationError", func(t *testing.T) {
		t.Parallel()

		ve := &ValidationError{Index: 3, Field: "app_id", Code: CodeMissingField, Message: "app_id is required"}
		got, ok := AsValidationError(fmt.Errorf("error decoding body: %w", ve))
		require.True(t, ok)
		require.Same(t, ve, got)

		_, ok = AsValidationError(ErrInvalidStored)
		require.False(t, ok)
	})

	t.Run("Error", func(t *testing.T) {
		t.Parallel()

		single := &ValidationError{Index: -1, Field: "fps.low_5", Code: CodeMissingField, Message: "fps.low_5 is required"}
		require.Equal(t, "fps.low_5 is required (missing_field)", single.Error())
		batch := &ValidationError{Index: 0, Code: CodeBatchEmpty, Message: "the batch is empty"}
		require.Equal(t, "event 0: the batch is empty (batch_empty)", batch.Error())
	})

	t.Run("PrintableKey", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, "weapon", printableKey([]byte("weapon")))
		require.Equal(t, "a\uFFFDb", printableKey([]byte("a\xffb")))
		long := printableKey([]byte(strings.Repeat("é", 100)))
		require.LessOrEqual(t, len(long), 64)
		require.Equal(t, strings.Repeat("é", 32), long)
	})

	t.Run("WithField", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, "custom_data", withField(newError(CodeTooLarge, "", "x"), "custom_data").Field)
		require.Equal(t, "custom_data.a", withField(newError(CodeTooLarge, "a", "x"), "custom_data").Field)
		require.Equal(t, "custom_data[2].a", withField(newError(CodeTooLarge, "[2].a", "x"), "custom_data").Field)
	})
}

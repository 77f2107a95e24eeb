package store

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestParseUUID(t *testing.T) {
	t.Parallel()
	for range 200 {
		want := uuid.New()
		for _, s := range []string{want.String(), strings.ToUpper(want.String())} {
			var got [16]byte
			require.True(t, parseUUID(s, &got), s)
			require.Equal(t, [16]byte(want), got, s)
		}
	}
	for _, bad := range []string{
		"", "72ab8f81-ef36-4712-a046-399a62b9afa", "72ab8f81-ef36-4712-a046-399a62b9afaaa",
		"72ab8f81xef36-4712-a046-399a62b9afaa", "72ab8f81-ef36-4712-a046-399a62b9afag",
		"g2ab8f81-ef36-4712-a046-399a62b9afaa", "72ab8f81-ef36-4712-a046-399a62b9af a",
		"{2ab8f81-ef36-4712-a046-399a62b9afaa", "72ab8f81ef36-4712-a046-399a62b9afaa-",
	} {
		var u [16]byte
		require.False(t, parseUUID(bad, &u), bad)
	}
}

package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePrefixes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"BareIPv4", "192.0.2.7", []string{"192.0.2.7/32"}, ""},
		{"BareIPv6WithZone", "fe80::1%eth0", []string{"fe80::1/128"}, ""},
		{"Empty", "", nil, ""},
		{"EmptyItemsAndSpaces", " 10.0.0.0/8 ,, , 2001:db8::/32 ", []string{"10.0.0.0/8", "2001:db8::/32"}, ""},
		{"GarbageItem", "10.0.0.0/8,proxy.internal", nil, `error parsing "proxy.internal"`},
		{"IPv4MappedBare", "::ffff:192.0.2.7", []string{"192.0.2.7/32"}, ""},
		{"IPv4MappedPrefix", "::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}, ""},
		{"Masked", "10.1.2.3/8", []string{"10.0.0.0/8"}, ""},
		{"Mixed", "10.0.0.0/8, 192.0.2.7, 2001:db8::/32", []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}, ""},
		{"PrefixTooLong", "10.0.0.0/33", nil, `error parsing "10.0.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParsePrefixes(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			var gotStrings []string
			for _, p := range got {
				gotStrings = append(gotStrings, p.String())
			}
			require.Equal(t, tt.want, gotStrings)
		})
	}
}

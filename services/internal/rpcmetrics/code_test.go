package rpcmetrics_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
)

// TestCodeNameRoundTripsThroughGRPC checks every name against grpc-go's own
// parser of canonical names (used for service configs).
func TestCodeNameRoundTripsThroughGRPC(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		t.Run(c.String(), func(t *testing.T) {
			name := rpcmetrics.CodeName(c)
			var got codes.Code
			require.NoError(t, json.Unmarshal([]byte(`"`+name+`"`), &got))
			assert.Equal(t, c, got)
		})
	}
	assert.Equal(t, "CODE(42)", rpcmetrics.CodeName(codes.Code(42)))
}

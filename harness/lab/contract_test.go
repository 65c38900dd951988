package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeVerdict(t *testing.T) {
	tests := []struct {
		name, json string
		outcome    string
		err        string
	}{
		{"pass", `{"examined": 3, "violations": []}`, OutcomePass, ""},
		{"fail", `{"examined": 3, "violations": [{"id": "o-1", "detail": "charged twice"}], "detail": "3 orders"}`, OutcomeFail, ""},
		{"nothing examined", `{"examined": 0, "violations": []}`, OutcomeInconclusive, ""},
		{"examined is required", `{"violations": []}`, "", `reading the verdict: "examined" is missing: how many records were checked`},
		{"violations are required", `{"examined": 1}`, "", `reading the verdict: "violations" is missing: a list, [] when there are none`},
		{"negative counts", `{"examined": -1, "violations": []}`, "", `reading the verdict: "examined" is -1: it counts records, from 0`},
		{"ids", `{"examined": 1, "violations": [{"detail": "x"}]}`, "", `reading the verdict: violations[0] has no "id"`},
		{"more violations than records", `{"examined": 1, "violations": [{"id": "a"}, {"id": "b"}]}`, "", "reading the verdict: 2 violations among 1 records examined"},
		{"unknown fields", `{"examined": 1, "violations": [], "ok": true}`, "", `reading the verdict: json: unknown field "ok"`},
		{"one value", `{"examined": 1, "violations": []} {}`, "", "reading the verdict: more than one JSON value"},
		{"not JSON", `PASS`, "", "reading the verdict: invalid character 'P' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecodeVerdict([]byte(tt.json))
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.outcome, v.Outcome())
		})
	}
}

func TestDecodeSettleStatus(t *testing.T) {
	s, err := DecodeSettleStatus([]byte(`{"pending": 2, "detail": "2 orders PENDING"}`))
	require.NoError(t, err)
	assert.Equal(t, SettleStatus{Pending: 2, Detail: "2 orders PENDING"}, s)
	_, err = DecodeSettleStatus([]byte(`{}`))
	assert.EqualError(t, err, `reading the settle probe's answer: "pending" is missing: how much work is still in flight`)
	_, err = DecodeSettleStatus([]byte(`{"pending": -1}`))
	assert.EqualError(t, err, `reading the settle probe's answer: "pending" is -1: it counts, from 0`)
}

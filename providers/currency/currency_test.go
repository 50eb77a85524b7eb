package currency

import (
	"errors"
	"strconv"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		code  string
		want  string
	}{
		{6197, "USD", "61.97"},
		{5, "USD", "0.05"},
		{0, "USD", "0.00"},
		{-1207, "EUR", "-12.07"},
		{500, "JPY", "500"},
		{1500, "KWD", "1.500"},
		{1, "BHD", "0.001"},
		{1234567, "MWK", "12345.67"},
		{10000, "CLF", "1.0000"},
		{-9223372036854775808, "USD", "-92233720368547758.08"},
	} {
		got, err := Format(tc.minor, tc.code)
		if err != nil || got != tc.want {
			t.Errorf("Format(%d, %s) = %q, %v; want %q", tc.minor, tc.code, got, err, tc.want)
		}
	}
	if _, err := Format(1, "XXX"); err == nil {
		t.Error("Format accepted an unknown currency")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		s    string
		code string
		want int64
		ok   bool
	}{
		{"61.97", "USD", 6197, true},
		{"61.9", "USD", 6190, true},
		{"61", "USD", 6100, true},
		{"61.970", "USD", 6197, true},
		{"0.07", "USD", 7, true},
		{"12345.07", "INR", 1234507, true},
		{"-1.5", "USD", -150, true},
		{"500", "JPY", 500, true},
		{"500.0", "JPY", 500, true},
		{"1.234", "KWD", 1234, true},
		{"61.975", "USD", 0, false},
		{"500.5", "JPY", 0, false},
		{"", "USD", 0, false},
		{".5", "USD", 0, false},
		{"5.", "USD", 0, false},
		{"1e3", "USD", 0, false},
		{"+5", "USD", 0, false},
		{"1,000.00", "USD", 0, false},
		{" 5", "USD", 0, false},
		{"99999999999999999999", "USD", 0, false},
		{"1", "XXX", 0, false},
	} {
		got, err := Parse(tc.s, tc.code)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d", tc.s, tc.code, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("Parse(%q, %s) = %d, want an error", tc.s, tc.code, got)
		}
	}
	if _, err := Parse("x", "USD"); !errors.Is(err, ErrInvalidAmount) {
		t.Errorf("parse error %v does not wrap ErrInvalidAmount", err)
	}
}

func TestExponents(t *testing.T) {
	for code, want := range map[string]int{"USD": 2, "INR": 2, "MWK": 2, "JPY": 0, "KRW": 0, "KWD": 3, "TND": 3, "CLF": 4} {
		if got, ok := Exponent(code); !ok || got != want {
			t.Errorf("Exponent(%s) = %d, %v; want %d", code, got, ok, want)
		}
	}
	for _, bad := range []string{"", "usd", "XXX", "US", "USDD"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

// FuzzRoundTrip checks that every amount survives minor -> decimal -> minor in every exponent.
func FuzzRoundTrip(f *testing.F) {
	for _, v := range []int64{0, 1, 7, 1234507, -1, 1 << 62, -1 << 63} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, minor int64) {
		for _, code := range []string{"JPY", "USD", "KWD", "CLF"} {
			s, err := Format(minor, code)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(s, code)
			if err != nil || back != minor {
				t.Fatalf("%d %s -> %q -> %d, %v", minor, code, s, back, err)
			}
		}
	})
}

// FuzzParse checks Parse never panics and that what it accepts formats back to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"61.97", "0", "-0.01", "1.", ".1", "1e5", "99999999999999999.99", "--1", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s, "USD")
		if err != nil {
			return
		}
		out, _ := Format(v, "USD")
		back, err := Parse(out, "USD")
		if err != nil || back != v {
			t.Fatalf("%q parsed to %d, formatted %q, parsed back %d, %v", s, v, out, back, err)
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("%q accepted but is not even a number", s)
		}
	})
}

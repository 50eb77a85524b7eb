// Package dashboard holds the merchant dashboard's templ components: one file per screen,
// each taking a view model shaped like its screen.
package dashboard

import "strconv"

func itoa(n int) string { return strconv.Itoa(n) }

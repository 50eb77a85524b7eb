package views

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QR codes of payment links, drawn from the matrix of github.com/yeqown/go-qrcode/v2 (a
// maintained encoder; skip2/go-qrcode has had no release since 2020). The library's own image
// writer pulls in a 2D graphics stack for rounded modules and logos; a QR code for print needs
// neither, so Kassa draws the modules itself: SVG for print at any size, PNG for everything else.

// qrQuietZone is the blank border, in modules, that ISO/IEC 18004 requires around a QR code so a
// scanner can find it on any background.
const qrQuietZone = 4

// QRPNGSize is the side of the PNG in pixels, about: a few modules more or less, so that every
// module is the same whole number of pixels. 1024 px prints 8.7 cm wide at 300 dpi.
const QRPNGSize = 1024

// QRPrintSize is the SVG's printed side: large enough to scan from arm's length on a menu or
// stall sign, small enough for an A6 card.
const QRPrintSize = "60mm"

// qrModules encodes text with error correction level Q (25% of the code can be dirty or
// covered and it still reads: printed codes get creased) and returns its modules, dark = true,
// with the quiet zone around them.
func qrModules(text string) ([][]bool, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart))
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	var w matrixWriter
	if err := q.Save(&w); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	n := len(w.bitmap) + 2*qrQuietZone
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
	}
	for y, row := range w.bitmap {
		for x, dark := range row {
			out[y+qrQuietZone][x+qrQuietZone] = dark
		}
	}
	return out, nil
}

// matrixWriter is a qrcode.Writer that keeps the matrix.
type matrixWriter struct{ bitmap [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.bitmap = m.Bitmap(); return nil }
func (w *matrixWriter) Close() error                { return nil }

// QRCodeSVG draws text as a QR code in SVG: one path of dark modules on a white square, with
// crisp edges, QRPrintSize wide.
func QRCodeSVG(text string) ([]byte, error) {
	mods, err := qrModules(text)
	if err != nil {
		return nil, err
	}
	n := len(mods)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="QR code">`,
		QRPrintSize, QRPrintSize, n, n)
	fmt.Fprintf(&b, "<title>%s</title>", xmlEscape(text))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range mods {
		for x := 0; x < n; x++ {
			if !row[x] {
				continue
			}
			run := 1 // one horizontal run of dark modules per rectangle keeps the file small
			for x+run < n && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes(), nil
}

// QRCodePNG draws text as a black-and-white QR code in PNG, about QRPNGSize pixels wide.
func QRCodePNG(text string) ([]byte, error) {
	mods, err := qrModules(text)
	if err != nil {
		return nil, err
	}
	n := len(mods)
	scale := max(QRPNGSize/n, 4)
	img := image.NewPaletted(image.Rect(0, 0, n*scale, n*scale), color.Palette{color.White, color.Black})
	for y, row := range mods {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				off := img.PixOffset(x*scale, y*scale+dy)
				for dx := range scale {
					img.Pix[off+dx] = 1
				}
			}
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

package views

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// decodeQR reads a QR code from img with gozxing (a port of ZXing, independent of the encoder).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: false})
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	return res.GetText()
}

var qrURLs = []string{
	"https://pay.example.com/l/plink_7k2m9q4x1v8b3n6c5z0w2r4t7y",
	"http://127.0.0.1:8080/l/plink_abcdefghijklmnopqrstuvwxyz",
}

func TestQRCodePNGDecodesToTheURL(t *testing.T) {
	for _, u := range qrURLs {
		raw, err := QRCodePNG(u)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeQR(t, img); got != u {
			t.Fatalf("the PNG decodes to %q, want %q", got, u)
		}
		b := img.Bounds()
		if b.Dx() != b.Dy() || b.Dx() < QRPNGSize*3/4 || b.Dx() > QRPNGSize {
			t.Fatalf("PNG is %v, want a square of about %d px", b, QRPNGSize)
		}
		// The quiet zone: the outer four modules' worth of every edge is white.
		mods, _ := qrModules(u)
		margin := qrQuietZone * b.Dx() / len(mods)
		for i := 0; i < b.Dx(); i++ {
			for _, p := range []image.Point{{i, 0}, {i, margin - 1}, {0, i}, {margin - 1, i}, {b.Dx() - margin, i}, {i, b.Dy() - 1}} {
				if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r == 0 {
					t.Fatalf("dark pixel at %v inside the quiet zone", p)
				}
			}
		}
	}
}

// TestQRCodeSVGDecodesToTheURL draws the SVG's path onto a bitmap (the path is Kassa's own
// simple "M x y h w v1 h-w z" runs) and decodes that, so the SVG is proved to carry the same
// code as the PNG.
func TestQRCodeSVGDecodesToTheURL(t *testing.T) {
	for _, u := range qrURLs {
		raw, err := QRCodeSVG(u)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindSubmatch(raw)
		if m == nil || !bytes.Contains(raw, []byte(`width="`+QRPrintSize+`"`)) {
			t.Fatalf("SVG without a square viewBox or print size: %s", raw[:200])
		}
		n, _ := strconv.Atoi(string(m[1]))
		const scale = 8
		img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
		for i := range img.Pix {
			img.Pix[i] = 255
		}
		runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllSubmatch(raw, -1)
		if len(runs) == 0 {
			t.Fatal("SVG has no modules")
		}
		for _, r := range runs {
			x, _ := strconv.Atoi(string(r[1]))
			y, _ := strconv.Atoi(string(r[2]))
			w, _ := strconv.Atoi(string(r[3]))
			if x < qrQuietZone || y < qrQuietZone || x+w > n-qrQuietZone || y >= n-qrQuietZone {
				t.Fatalf("module run %s inside the quiet zone", r[0])
			}
			for py := y * scale; py < (y+1)*scale; py++ {
				for px := x * scale; px < (x+w)*scale; px++ {
					img.SetGray(px, py, color.Gray{})
				}
			}
		}
		if got := decodeQR(t, img); got != u {
			t.Fatalf("the SVG decodes to %q, want %q", got, u)
		}
		if !bytes.Contains(raw, []byte(fmt.Sprintf("<title>%s</title>", u))) {
			t.Errorf("SVG has no title naming the URL")
		}
	}
}

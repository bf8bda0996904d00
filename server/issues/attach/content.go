package attach

import (
	"archive/zip"
	"bytes"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"hqconnect/internal/errs"
)

// fileType is one allowed kind of file: the extensions that name it, the
// type it is stored and served as, the types a client may declare for it,
// and the check that its bytes really are such a file.
type fileType struct {
	label    string // for messages: "a PDF document"
	labelVI  string
	exts     []string
	stored   string
	declared []string
	matches  func(data []byte, sniffed string) bool
}

func sniffedIs(types ...string) func([]byte, string) bool {
	return func(_ []byte, sniffed string) bool {
		mt, _, _ := mime.ParseMediaType(sniffed)
		for _, t := range types {
			if mt == t {
				return true
			}
		}
		return false
	}
}

// ole2 is the signature of the Compound File format of Office 97–2003
// documents (.doc, .xls, .ppt), which http.DetectContentType does not know.
var ole2 = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

func isOLE2(data []byte, _ string) bool { return bytes.HasPrefix(data, ole2) }

// officeXML checks that a ZIP is an Office Open XML package of the part
// prefix ("word/", "xl/", "ppt/").
func officeXML(prefix string) func([]byte, string) bool {
	return func(data []byte, sniffed string) bool {
		if sniffed != "application/zip" {
			return false
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return false
		}
		var types, part bool
		for _, f := range zr.File {
			types = types || f.Name == "[Content_Types].xml"
			part = part || strings.HasPrefix(f.Name, prefix)
		}
		return types && part
	}
}

func isText(data []byte, sniffed string) bool {
	return strings.HasPrefix(sniffed, "text/plain") && utf8.Valid(data)
}

var fileTypes = []fileType{
	{"a PDF document", "tài liệu PDF", []string{".pdf"}, "application/pdf",
		[]string{"application/pdf", "application/x-pdf"}, sniffedIs("application/pdf")},
	{"a JPEG image", "ảnh JPEG", []string{".jpg", ".jpeg"}, "image/jpeg",
		[]string{"image/jpeg", "image/jpg", "image/pjpeg"}, sniffedIs("image/jpeg")},
	{"a PNG image", "ảnh PNG", []string{".png"}, "image/png", []string{"image/png"}, sniffedIs("image/png")},
	{"a GIF image", "ảnh GIF", []string{".gif"}, "image/gif", []string{"image/gif"}, sniffedIs("image/gif")},
	{"a WebP image", "ảnh WebP", []string{".webp"}, "image/webp", []string{"image/webp"}, sniffedIs("image/webp")},
	{"a Word document", "tài liệu Word", []string{".docx"}, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		[]string{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"}, officeXML("word/")},
	{"an Excel workbook", "bảng tính Excel", []string{".xlsx"}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		[]string{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"}, officeXML("xl/")},
	{"a PowerPoint presentation", "bản trình chiếu PowerPoint", []string{".pptx"}, "application/vnd.openxmlformats-officedocument.presentationml.presentation",
		[]string{"application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip"}, officeXML("ppt/")},
	{"a Word 97–2003 document", "tài liệu Word 97–2003", []string{".doc"}, "application/msword",
		[]string{"application/msword"}, isOLE2},
	{"an Excel 97–2003 workbook", "bảng tính Excel 97–2003", []string{".xls"}, "application/vnd.ms-excel",
		[]string{"application/vnd.ms-excel", "application/msexcel"}, isOLE2},
	{"a plain text file", "tệp văn bản", []string{".txt"}, "text/plain; charset=utf-8",
		[]string{"text/plain"}, isText},
	{"a CSV file", "tệp CSV", []string{".csv"}, "text/csv; charset=utf-8",
		// Windows declares CSV files as Excel's.
		[]string{"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"}, isText},
	{"a ZIP archive", "tệp nén ZIP", []string{".zip"}, "application/zip",
		[]string{"application/zip", "application/x-zip-compressed", "application/x-zip"}, sniffedIs("application/zip")},
}

const allowedListEN = "PDF, JPEG, PNG, GIF, WebP, Word (.docx, .doc), Excel (.xlsx, .xls), PowerPoint (.pptx), text (.txt, .csv) or ZIP"
const allowedListVI = "PDF, JPEG, PNG, GIF, WebP, Word (.docx, .doc), Excel (.xlsx, .xls), PowerPoint (.pptx), văn bản (.txt, .csv) hoặc ZIP"

// typeOf returns the file type named by a file name's extension.
func typeOf(name string) (*fileType, bool) {
	ext := strings.ToLower(path.Ext(name))
	for i := range fileTypes {
		for _, e := range fileTypes[i].exts {
			if e == ext {
				return &fileTypes[i], true
			}
		}
	}
	return nil, false
}

// checkFileName: 1–200 characters, no path, no control characters, and an
// allowed extension.
func checkFileName(raw string) (string, *fileType, error) {
	name := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(name)
	switch {
	case name == "":
		return "", nil, errs.InvalidField("file_name", "is required on the first chunk", "là bắt buộc ở phần đầu tiên")
	case !utf8.ValidString(name) || n > 200:
		return "", nil, errs.InvalidField("file_name", "must be 1 to 200 characters", "phải dài từ 1 đến 200 ký tự")
	case strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, unicode.IsControl) || name == "." || name == "..":
		return "", nil, errs.InvalidField("file_name",
			"must be a plain file name, without a folder path or control characters",
			"phải là tên tệp đơn thuần, không có đường dẫn thư mục hay ký tự điều khiển")
	}
	ft, ok := typeOf(name)
	if !ok {
		return "", nil, errs.InvalidField("file_name",
			"this kind of file is not accepted; attach "+allowedListEN,
			"không chấp nhận loại tệp này; hãy đính kèm "+allowedListVI)
	}
	return name, ft, nil
}

// checkDeclared checks the content type a client declared against the file
// name's type. Empty and application/octet-stream (what many clients send
// when they do not know) are accepted: the content is checked anyway.
func checkDeclared(ft *fileType, declared string) error {
	d := strings.TrimSpace(declared)
	if d == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(d)
	if err == nil {
		if mt == "application/octet-stream" {
			return nil
		}
		for _, t := range ft.declared {
			if mt == t {
				return nil
			}
		}
	}
	return errs.InvalidField("content_type",
		"does not match the file name, which names "+ft.label+" ("+ft.declared[0]+")",
		"không khớp với tên tệp, vốn là "+ft.labelVI+" ("+ft.declared[0]+")")
}

// checkContent checks that data is what the file name says it is.
func checkContent(ft *fileType, name string, data []byte) error {
	if ft.matches(data, http.DetectContentType(data)) {
		return nil
	}
	return errs.InvalidField("data",
		"the file's content is not "+ft.label+" as its name "+name+" says; attach the real file ("+allowedListEN+")",
		"nội dung tệp không phải là "+ft.labelVI+" như tên tệp "+name+"; hãy đính kèm đúng tệp ("+allowedListVI+")")
}

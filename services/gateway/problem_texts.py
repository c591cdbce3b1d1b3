"""The one catalogue of problem texts in Bahasa Indonesia: problem slug -> (title, detail).

English answers keep the services' own detail (it may name a time or a field); an Indonesian answer
takes the catalogue's title and detail for its slug, or the generic ones of its HTTP status when the
slug is not listed here (a unit test lists every slug the code can raise, so none is forgotten).
Plain words, addressed to the applicant or officer; the `type` URI never changes. The messages of
`errors[]` are rewritten by their English shape (`indonesian_errors`, at the end); `field` stays.
"""
from __future__ import annotations

import re

BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("Permintaan tidak dapat dibaca", "Permintaan tidak dapat dibaca; periksa isinya lalu coba lagi."),
    401: ("Perlu masuk", "Silakan masuk (login) terlebih dahulu."),
    403: ("Tidak diizinkan", "Anda tidak berhak melakukan ini."),
    404: ("Tidak ditemukan", "Data yang Anda cari tidak ditemukan."),
    405: ("Metode tidak diizinkan", "Cara permintaan ini tidak didukung untuk alamat ini."),
    409: ("Tidak dapat diproses sekarang", "Permintaan bertentangan dengan keadaan data saat ini."),
    413: ("Berkas terlalu besar", "Berkas atau isi permintaan terlalu besar."),
    415: ("Jenis isi tidak didukung", "Jenis isi permintaan tidak didukung."),
    422: ("Data belum benar", "Beberapa isian kosong atau tidak sah; lihat rinciannya."),
    429: ("Terlalu banyak permintaan", "Terlalu banyak permintaan; tunggu sebentar lalu coba lagi."),
    500: ("Kesalahan sistem", "Terjadi kesalahan di sistem kami; sudah dicatat. Silakan coba lagi nanti."),
    503: ("Layanan sedang sibuk", "Layanan sedang sibuk atau tidak tersedia; coba lagi sebentar lagi."),
}

CATALOGUE: dict[str, tuple[str, str]] = {
    # gateway
    "unauthenticated": ("Perlu masuk", "Silakan masuk (login) terlebih dahulu."),
    "token-expired": ("Sesi berakhir", "Sesi Anda sudah berakhir; silakan masuk lagi."),
    "token-revoked": ("Sesi dicabut", "Akun dinonaktifkan atau kata sandinya diganti; silakan masuk lagi."),
    "forbidden": ("Tidak diizinkan", "Anda tidak berhak melakukan ini."),
    "not-found": ("Tidak ditemukan", "Alamat atau data yang Anda cari tidak ditemukan."),
    "method-not-allowed": ("Metode tidak diizinkan", "Cara permintaan ini tidak didukung untuk alamat ini."),
    "bad-request": ("Permintaan tidak dapat dibaca", "Permintaan tidak dapat dibaca; periksa isinya."),
    "http-error": ("Permintaan gagal", "Permintaan tidak dapat diproses."),
    "malformed-json": ("JSON tidak sah", "Isi permintaan bukan JSON yang sah."),
    "unsupported-media-type": ("Jenis isi tidak didukung", "Kirim isi permintaan sebagai JSON."),
    "payload-too-large": ("Berkas terlalu besar", "Berkas atau isi permintaan terlalu besar."),
    "validation-error": ("Data belum benar", "Beberapa isian kosong atau tidak sah; lihat rinciannya."),
    "idempotency-key-reused": ("Kunci idempotensi sudah dipakai",
                               "Idempotency-Key ini sudah dipakai untuk permintaan dengan isi lain."),
    "request-in-progress": ("Permintaan sedang diproses",
                            "Permintaan yang sama masih diproses; tunggu sebentar lalu coba lagi."),
    "overloaded": ("Layanan sedang sibuk", "Layanan sedang sangat sibuk; coba lagi sebentar lagi."),
    # the waiting room in front of booking (services/gateway/waiting_room.py)
    "waiting-room": ("Ruang tunggu aktif",
                     "Pemesanan di kantor {office_id} sedang melalui ruang tunggu: ambil nomor antrean dengan "
                     "POST {path}, lalu kirim izin masuk yang diberikan di header X-Admission-Pass."),
    "admission-pass-invalid": ("Izin masuk tidak berlaku",
                               "Izin masuk ruang tunggu ini tidak sah, sudah kedaluwarsa, atau bukan milik akun "
                               "Anda; lihat nomor antrean Anda dengan POST {path}."),
    "waiting-room-closed": ("Ruang tunggu tidak aktif",
                            "Kantor {office_id} tidak sedang memakai ruang tunggu; silakan langsung memesan jadwal."),
    "service-unavailable": ("Layanan tidak tersedia", "Layanan sementara tidak tersedia; coba lagi sebentar lagi."),
    "too-many-requests": ("Terlalu banyak permintaan", "Terlalu banyak permintaan; tunggu sebentar lalu coba lagi."),
    "internal-error": ("Kesalahan sistem", "Terjadi kesalahan di sistem kami; sudah dicatat. Silakan coba lagi nanti."),
    "conflict": ("Tidak dapat diproses sekarang", "Permintaan bertentangan dengan keadaan data saat ini."),
    "invalid-signature": ("Tanda tangan tidak sah", "Tanda tangan notifikasi bank tidak sah."),
    "access-pin-required": ("PIN diperlukan", "Masukkan kode pelacakan beserta PIN pengaduan Anda."),
    "unknown-finger-position": ("Posisi jari tidak dikenal", "Posisi jari harus 1 sampai 10."),
    "checks-failed": ("Pemeriksaan gagal", "Foto atau sidik jari belum memenuhi syarat; lihat hasil pemeriksaannya."),
    # accounts
    "email-taken": ("Email sudah terdaftar", "Email ini sudah dipakai akun lain."),
    "nik-taken": ("NIK sudah terdaftar", "NIK ini sudah memiliki akun."),
    "invalid-credentials": ("Gagal masuk", "Email atau kata sandi salah."),
    "pdf-not-accepted": ("PDF tidak dapat diterima",
                         "PDF ini tidak dapat dibaca atau dibersihkan (terenkripsi atau rusak); pindai atau ekspor ulang."),
    "otp-required": ("Kode verifikasi diperlukan", "Masukkan kode 6 angka dari aplikasi autentikator Anda."),
    "otp-invalid": ("Kode verifikasi salah", "Kode salah, kedaluwarsa, atau sudah dipakai; tunggu kode berikutnya."),
    "otp-enrolment-required": ("Verifikasi dua langkah wajib",
                               "Petugas wajib mendaftarkan aplikasi autentikator sebelum masuk."),
    "otp-already-enrolled": ("Autentikator sudah terdaftar",
                             "Aplikasi autentikator sudah terdaftar; kepala kantor dapat mengaturnya ulang."),
    "otp-enrolment-not-started": ("Pendaftaran belum dimulai", "Pindai kode QR terlebih dahulu."),
    "otp-staff-only": ("Khusus petugas", "Verifikasi dua langkah ini hanya untuk akun petugas."),
    "account-not-found": ("Akun tidak ditemukan", "Akun tidak ditemukan."),
    # offices, slots and releases
    "office-not-found": ("Kantor tidak ditemukan", "Kantor imigrasi ini tidak ditemukan."),
    "slot-not-found": ("Jadwal tidak ditemukan", "Jadwal yang dipilih tidak ditemukan."),
    "slot-full": ("Jadwal penuh", "Kuota jadwal ini sudah habis; silakan pilih jadwal lain."),
    "no-seats": ("Kursi habis", "Tidak ada kursi yang tersisa untuk pilihan ini."),
    "seats-available": ("Masih ada kursi", "Masih ada kursi kosong; silakan pesan langsung tanpa daftar tunggu."),
    "slot-of-another-office": ("Jadwal kantor lain", "Jadwal ini milik kantor lain dari permohonan Anda."),
    "date-in-past": ("Tanggal sudah lewat", "Tanggal yang dipilih sudah lewat."),
    "not-yet-released": ("Jadwal belum dibuka", "Tanggal {date} baru dibuka untuk pemesanan pada {opens_at}."),
    "slot-closed": ("Pemesanan jadwal ini sudah ditutup",
                    "Pemesanan untuk jam {start} ditutup pukul {closed_at} ({minutes} menit sebelum mulai); "
                    "pilih jam yang lebih siang."),
    "booking-interrupted": ("Pemesanan terputus",
                            "Pemesanan terputus sebelum selesai dan tidak ada yang dipesan; silakan coba lagi."),
    "store-unavailable": ("Layanan sedang pulih",
                          "Penyimpanan data kami sebentar tidak dapat dijangkau; tidak ada yang berubah. "
                          "Coba lagi sebentar lagi."),
    "priority-proof-missing": ("Bukti prioritas belum diunggah",
                               "Kursi jalur prioritas memerlukan dokumen bukti kelompok Anda (kartu disabilitas, "
                               "surat keterangan hamil, atau akta kelahiran anak); petugas memeriksanya di loket."),
    "priority-decision-required": ("Keputusan bukti prioritas diperlukan",
                                   "Janji temu jalur prioritas: nyatakan bukti DITERIMA (CONFIRMED) atau DITOLAK "
                                   "(REFUSED)."),
    "invitation-required": ("Kode undangan diperlukan",
                            "Kursi layanan kolektif (Eazy Passport) dipesan dengan kode undangan dari penyelenggara."),
    "outreach-already-decided": ("Sudah diputuskan", "Permintaan layanan kolektif ini sudah diputuskan."),
    "outreach-request-not-found": ("Permintaan tidak ditemukan", "Permintaan layanan kolektif ini tidak ditemukan."),
    "no-appointment": ("Belum ada janji temu",
                       "Permohonan berstatus {status}: belum ada janji temu untuk ditunjukkan."),
    "queue-empty": ("Antrean kosong", "Tidak ada pemohon yang sudah check-in dan menunggu dipanggil."),
    "number-not-called": ("Nomor belum dipanggil", "Nomor {number} belum dipanggil hari ini."),
    "document-not-found": ("Dokumen tidak ditemukan", "Dokumen ini tidak ditemukan."),
    "reset-code-invalid": ("Kode salah", "Kode salah, sudah kedaluwarsa, atau sudah dipakai."),
    "lane-not-allowed": ("Loket tidak sesuai", "Jenis loket ini tidak berlaku untuk permohonan Anda."),
    "office-not-in-ballot-mode": ("Bukan sistem undian", "Kantor ini tidak memakai undian untuk tanggal ini."),
    "ballot-not-open": ("Undian belum dibuka", "Pendaftaran undian belum atau sudah tidak dibuka."),
    "ballot-not-found": ("Undian tidak ditemukan", "Undian tidak ditemukan."),
    "ballot-exists": ("Undian sudah ada", "Undian untuk tanggal ini sudah ada."),
    "ballot-pending": ("Undian belum selesai", "Undian belum diundi; tunggu hasilnya."),
    "not-drawn-yet": ("Undian belum diundi", "Undian belum diundi; tunggu hasilnya."),
    "already-entered": ("Sudah terdaftar", "Anda sudah terdaftar dalam undian ini."),
    # applications and appointments
    "application-not-found": ("Permohonan tidak ditemukan", "Permohonan tidak ditemukan."),
    "active-application-exists": ("Masih ada permohonan aktif", "NIK ini masih memiliki permohonan yang aktif."),
    "application-not-draft": ("Permohonan sudah diproses", "Permohonan ini tidak lagi dapat diubah."),
    "application-closed": ("Permohonan sudah ditutup", "Permohonan ini sudah ditutup."),
    "application-changed": ("Permohonan berubah", "Permohonan berubah pada saat yang sama; silakan coba lagi."),
    "application-of-another-office": ("Permohonan kantor lain", "Permohonan ini terdaftar di kantor lain."),
    "documents-missing": ("Dokumen belum lengkap", "Unggah dulu semua dokumen yang diperlukan sebelum memesan jadwal."),
    "document-too-large": ("Dokumen terlalu besar", "Dokumen paling besar 5 MB."),
    "document-type-not-allowed": ("Jenis dokumen tidak diterima", "Dokumen harus berupa JPEG, PNG, atau PDF."),
    "appointment-exists": ("Sudah ada jadwal", "Permohonan ini sudah memiliki jadwal."),
    "booking-in-progress": ("Pemesanan sedang diproses", "Pemesanan Anda sedang diproses; tunggu sebentar lalu coba lagi."),
    "booking-unavailable": ("Pemesanan tidak tersedia", "Layanan pemesanan sementara tidak tersedia; coba lagi sebentar lagi."),
    "cancel-not-allowed": ("Tidak dapat dibatalkan", "Hanya jadwal yang sudah dipesan yang dapat dibatalkan."),
    "reschedule-not-allowed": ("Jadwal tidak dapat diubah",
                               "Jadwal hanya dapat diubah sekali, setelah dibayar, paling lambat sehari sebelumnya."),
    "waitlist-not-allowed": ("Tidak dapat masuk daftar tunggu", "Permohonan ini tidak dapat masuk daftar tunggu."),
    "already-waitlisted": ("Sudah dalam daftar tunggu", "Permohonan ini sudah ada dalam daftar tunggu."),
    "not-paid": ("Belum dibayar", "Permohonan ini belum dibayar."),
    "not-today": ("Bukan jadwal hari ini", "Jadwal permohonan ini bukan hari ini."),
    "not-checked-in": ("Belum check-in", "Pemohon belum check-in."),
    "not-checked-in-today": ("Belum check-in hari ini", "Pemohon belum check-in hari ini."),
    "not-approved": ("Belum disetujui", "Permohonan ini belum disetujui."),
    "not-issued": ("Paspor belum terbit", "Paspor untuk permohonan ini belum terbit."),
    "integrity-error": ("Data tidak konsisten", "Data tidak konsisten; sudah dicatat untuk diperiksa."),
    "audit-busy": ("Sedang sibuk", "Catatan audit sedang sibuk; coba lagi sebentar lagi."),
    # payment
    "billing-not-found": ("Billing tidak ditemukan", "Kode billing tidak ditemukan."),
    "no-billing-yet": ("Belum ada billing",
                       "Permohonan berstatus {status}: billing dibuat setelah Anda memilih jadwal."),
    "unknown-billing-code": ("Kode billing tidak dikenal", "Kode billing ini tidak dikenal."),
    "billing-expired": ("Billing kedaluwarsa",
                        "Billing {billing_code} sudah kedaluwarsa pada {at} sebelum pembayaran ini diterima; "
                        "pembayaran dicatat untuk dijadwalkan ulang atau dikembalikan."),
    "billing-cancelled": ("Billing dibatalkan",
                          "Billing {billing_code} dibatalkan pada {at} karena janji temunya dibatalkan; "
                          "pembayaran ini dicatat dan dikembalikan penuh."),
    "billing-void": ("Billing tidak berlaku",
                     "Billing {billing_code} tidak berlaku sejak {at}: pemesanannya tidak selesai, jadi tidak "
                     "terkait janji temu mana pun. Pembayaran ini dicatat dan dikembalikan penuh."),
    "appointment-abandoned": ("Pemesanan dibatalkan sistem",
                              "Percobaan pemesanan ini sudah dihentikan; tidak ada tagihan untuknya."),
    "billing-code-exhausted": ("Kode billing habis", "Tidak dapat membuat kode billing baru; coba lagi nanti."),
    "amount-mismatch": ("Jumlah tidak sesuai", "Jumlah pembayaran tidak sesuai dengan tagihan."),
    "bank-reference-reused": ("Referensi bank sudah dipakai", "Referensi bank ini sudah dipakai untuk pembayaran lain."),
    "bank-unavailable": ("Bank tidak dapat dihubungi", "Bank sementara tidak dapat dihubungi; coba lagi nanti."),
    "payment-unavailable": ("Pembayaran tidak tersedia", "Layanan pembayaran sementara tidak tersedia; coba lagi nanti."),
    "refund-not-found": ("Pengembalian dana tidak ditemukan", "Pengembalian dana tidak ditemukan."),
    "refund-id-required": ("Nomor pengembalian diperlukan", "Sebutkan nomor pengembalian dana."),
    "refund-already-paid-out": ("Dana sudah dikembalikan", "Pengembalian dana ini sudah dibayarkan."),
    # biometrics
    "biometrics-incomplete": ("Biometrik belum lengkap", "Foto dan sidik jari belum lengkap."),
    "interview-already-recorded": ("Wawancara sudah dicatat", "Hasil wawancara sudah dicatat."),
    "bap-required": ("BAP diperlukan", "Persetujuan penggantian paspor hilang atau rusak memerlukan Berita Acara "
                     "Pemeriksaan (BAP) beserta uraian kejadiannya."),
    "missing-fingers-need-approval": ("Perlu persetujuan supervisor", "Semua sidik jari dicatat tidak dapat "
                                      "diambil; supervisor kantor harus menyetujuinya terlebih dahulu."),
    "no-missing-fingers-to-approve": ("Tidak ada yang perlu disetujui", "Persetujuan hanya untuk perekaman "
                                      "dengan semua sidik jari wajib dicatat tidak dapat diambil."),
    "photo-not-found": ("Foto tidak ditemukan", "Belum ada foto yang diterima untuk permohonan ini."),
    "unsupported-image-format": ("Format gambar tidak didukung", "Format gambar tidak didukung."),
    # complaints
    "complaint-not-found": ("Pengaduan tidak ditemukan", "Pengaduan tidak ditemukan, atau kode pelacakan/PIN salah."),
    "complaint-closed": ("Pengaduan sudah ditutup", "Pengaduan ini sudah selesai atau ditolak."),
    "too-many-attempts": ("Terlalu banyak percobaan", "Terlalu banyak percobaan; tunggu sesuai Retry-After lalu coba lagi."),
    "too-many-pin-attempts": ("Terlalu banyak percobaan PIN", "Terlalu banyak PIN salah; coba lagi nanti."),
    "tracking-code-exhausted": ("Kode pelacakan habis", "Tidak dapat membuat kode pelacakan; coba lagi nanti."),
    "too-many-attachments": ("Lampiran terlalu banyak", "Jumlah lampiran pengaduan ini sudah maksimal."),
    "attachment-too-large": ("Lampiran terlalu besar", "Lampiran terlalu besar."),
    "attachment-type-not-allowed": ("Jenis lampiran tidak diterima", "Lampiran harus berupa JPEG, PNG, atau PDF."),
    "attachment-not-found": ("Lampiran tidak ditemukan", "Lampiran tidak ditemukan."),
    "assignment-contended": ("Penugasan bersamaan", "Pengaduan sedang ditugaskan oleh orang lain; coba lagi."),
    "assignee-not-staff-of-office": ("Bukan petugas kantor ini", "Petugas yang dipilih bukan staf kantor ini."),
    "complaint-not-linkable": ("Tidak dapat ditautkan", "Pengaduan ini tidak dapat ditautkan ke permohonan."),
    "complaint-already-linked": ("Sudah ditautkan", "Pengaduan ini sudah ditautkan ke permohonan."),
    "application-already-linked": ("Sudah ditautkan", "Permohonan ini sudah ditautkan ke pengaduan lain."),
    "application-not-linkable": ("Tidak dapat ditautkan", "Permohonan ini tidak dapat ditautkan."),
    "application-not-replacement": ("Bukan permohonan penggantian",
                                    "Hanya permohonan penggantian paspor hilang/rusak yang dapat ditautkan."),
    "replacement-report-not-found": ("Laporan tidak ditemukan", "Laporan kehilangan/kerusakan paspor tidak ditemukan."),
}

# A slug whose services give several distinct reasons: the exact English detail -> its Indonesian words
# (a detail not listed takes the slug's catalogue detail).
DETAILS: dict[str, str] = {
    "an appointment can be rescheduled only once": "Jadwal hanya dapat diubah satu kali.",
    "only a PAID appointment can be rescheduled": "Hanya jadwal yang sudah dibayar yang dapat diubah.",
    "reschedule at the latest the day before the appointment":
        "Jadwal dapat diubah paling lambat sehari sebelum janji temu.",
    "choose a date after today": "Pilih tanggal setelah hari ini.",
    "this slot has no seats left; choose another time or join the waitlist":
        "Kuota jadwal ini sudah habis; pilih waktu lain atau masuk daftar tunggu.",
}


def indonesian(slug: str, status: int, detail: str = "", params: dict | None = None) -> tuple[str, str]:
    """(title, detail) in Bahasa Indonesia for a problem slug (the status's generic ones if unlisted).
    A catalogue detail may name `{values}` the service gave with the problem; without them it falls
    back to the status's generic detail rather than show a placeholder."""
    title, generic = CATALOGUE.get(slug) or BY_STATUS.get(status) or BY_STATUS[500 if status >= 500 else 400]
    text = DETAILS.get(detail, generic)
    if "{" in text:
        try:
            return title, text.format_map(params or {})
        except (KeyError, ValueError):
            return title, (BY_STATUS.get(status) or BY_STATUS[400])[1]
    return title, text


# -- errors[].message ---------------------------------------------------------------------------
# The services word field errors in English, in a few shapes that name the field and its values.
# An Indonesian answer rewrites each message: first the shapes (values kept as they are: field
# names, codes and numbers are the API's own words), then whole sentences; a message neither knows
# gets the generic words for its field. `field` itself never changes.
_F = r"(?P<f>[a-z][a-z0-9_.]*)"


def _codes(v: str) -> str:
    return v.replace(" or ", " atau ")


_CODE = r"[A-Z][A-Z0-9_]*"
ERROR_SHAPES: list[tuple[re.Pattern, object]] = [(re.compile(p), t) for p, t in [
    (_F + r" is required", "{f} wajib diisi"),
    (_F + r" is required \(at most (?P<n>\d+) characters\)", "{f} wajib diisi (paling banyak {n} karakter)"),
    (_F + r" is required, at most (?P<n>\d+) characters", "{f} wajib diisi, paling banyak {n} karakter"),
    (_F + r" must be a string", "{f} harus berupa teks"),
    (_F + r" must be an integer", "{f} harus berupa bilangan bulat"),
    (_F + r" must be a whole number", "{f} harus berupa bilangan bulat"),
    (_F + r" must be true or false", "{f} harus true atau false"),
    (_F + r" must be a list", "{f} harus berupa daftar"),
    (_F + r" must be an object", "{f} harus berupa objek"),
    (_F + r" must be (?:an integer )?from (?P<a>-?\d+) to (?P<b>-?\d+)", "{f} harus antara {a} dan {b}"),
    (_F + r" must be (?P<a>\d+) to (?P<b>\d+)", "{f} harus {a} sampai {b}"),
    (_F + r" must be (?P<a>\d+)-(?P<b>\d+)", "{f} harus {a}-{b}"),
    (_F + r" must be (?P<a>\d+) or (?P<b>\d+)", "{f} harus {a} atau {b}"),
    (_F + r" must be null or one of (?P<v>.+)", "{f} harus kosong (null) atau salah satu dari: {v}"),
    (_F + r" must be one of (?P<v>.+)", "{f} harus salah satu dari: {v}"),
    (r"one of (?P<v>.+)", "salah satu dari: {v}"),
    (_F + rf" must be (?P<a>{_CODE}) or (?P<b>{_CODE})", "{f} harus {a} atau {b}"),
    (_F + rf" must be (?P<a>{_CODE})", "{f} harus {a}"),
    (rf"(?P<a>{_CODE}) or (?P<b>{_CODE})", "{a} atau {b}"),
    (_F + r" must be a date YYYY-MM-DD", "{f} harus berupa tanggal dengan format YYYY-MM-DD"),
    (_F + r" must be YYYY-MM", "{f} harus berformat YYYY-MM"),
    (_F + r" must be an RFC 3339 (?:time|timestamp)(?: with offset)?(?:, e\.g\. (?P<e>\S+))?",
     "{f} harus berupa waktu RFC 3339 dengan zona waktu (mis. 2026-05-04T09:00:00+07:00)"),
    (_F + r" is in the future", "{f} tidak boleh di masa depan"),
    (_F + r" must be at least (?P<n>\d+) characters", "{f} paling sedikit {n} karakter"),
    (_F + r" (?:must be|is) at most (?P<n>\d+) characters", "{f} paling banyak {n} karakter"),
    (r"at most (?P<n>\d+) characters", "paling banyak {n} karakter"),
    (r"(?:the file is larger than|at most) (?P<n>\d+) (?P<u>bytes|MB)", "ukuran berkas paling besar {n} {u}"),
    (_F + r" must be empty", "{f} harus kosong"),
    (_F + r" has the wrong format", "format {f} salah"),
    (_F + r" is not a valid id", "{f} bukan id yang sah"),
    (_F + r" is not a valid address", "alamat {f} tidak sah"),
    (_F + r" must be (?P<n>\d+) digits", "{f} harus {n} digit angka"),
    (r"(?P<n>\d+) digits", "{n} digit angka"),
    (r"(?:an integer )?(?P<a>\d+)(?:-|\.\.)(?P<b>\d+)", "bilangan bulat {a} sampai {b}"),
    (r"expected (?P<n>\d+)", "seharusnya {n}"),
    (r"(?P<d>\d{4}-\d\d-\d\d) is not a working day of (?P<o>\w+)", "{d} bukan hari kerja kantor {o}"),
    (r"(?P<o>\w+) has no slot starting at (?P<t>[\d:]+)", "kantor {o} tidak punya jadwal yang mulai pukul {t}"),
    (r"(?P<o>\w+) has no (?P<l>\w+) seats on (?P<d>[\d-]+)", "kantor {o} tidak punya kursi jalur {l} pada {d}"),
    (r"the range may span at most (?P<n>\d+) days", "rentang tanggal paling panjang {n} hari"),
    (r"a collective session is for (?P<a>\d+) to (?P<b>\d+) people",
     "layanan kolektif untuk {a} sampai {b} orang"),
    (r"page starts at 1; page_size is 1 to (?P<n>\d+)", "page mulai dari 1; page_size 1 sampai {n}"),
    (r"limit must be 1-(?P<n>\d+)", "limit harus 1-{n}"),
    (rf"(?P<v>{_CODE}(?: or {_CODE})*)", _codes),  # documents still missing: "one of these kinds"
    (r"NIK is invalid: a NIK is exactly 16 digits", "NIK tidak sah: NIK terdiri dari tepat 16 angka"),
    (r"NIK is invalid: (?P<p>\d\d) is not a province code", "NIK tidak sah: {p} bukan kode provinsi"),
    (r"NIK is invalid: the serial part of a NIK is never 0000",
     "NIK tidak sah: nomor urut NIK tidak pernah 0000"),
    (r"the image is (?P<w>\d+)x(?P<h>\d+); at most (?P<n>\d+) pixels are accepted",
     "ukuran gambar {w}x{h}; paling banyak {n} piksel"),
    (r"fingerprints must be 8-bit greyscale; this file is (?P<rest>.+)",
     "sidik jari harus gambar abu-abu (greyscale) 8-bit"),
    (r"fingerprint images must be (?P<rest>.+)", "ukuran gambar sidik jari di luar batas yang diterima"),
    (r"fingerprints must be scanned at (?P<p>\d+) ppi; the file states (?P<s>\d+)",
     "sidik jari harus dipindai pada {p} ppi; berkas ini {s} ppi"),
]]
ERROR_SENTENCES: dict[str, str] = {
    "reason must not be empty": "alasan wajib diisi",
    "file is required": "berkas wajib diunggah",
    "the PDF cannot be read or cleaned; scan or export it again":
        "PDF ini tidak dapat dibaca atau dibersihkan; pindai atau ekspor ulang berkasnya",
    "file is empty": "berkas kosong",
    "the file is empty": "berkas kosong",
    "the uploaded file is empty": "berkas kosong",
    "file is required (JPEG, PNG or PDF, at most 5 MB)": "berkas wajib diunggah (JPEG, PNG, atau PDF, paling besar 5 MB)",
    "JPEG, PNG or PDF only": "hanya JPEG, PNG, atau PDF",
    "only JPEG, PNG or PDF files are accepted": "hanya berkas JPEG, PNG, atau PDF yang diterima",
    "use EMAIL and/or SMS, each at most once": "pilih EMAIL dan/atau SMS, masing-masing sekali saja",
    "unknown status": "status tidak dikenal",
    "unknown kind": "jenis tidak dikenal",
    "unknown office": "kantor tidak dikenal",
    "unknown billing code": "kode billing tidak dikenal",
    "amount must be a positive number of rupiah": "amount harus jumlah rupiah yang lebih dari nol",
    "amount must be a positive integer number of rupiah": "amount harus bilangan bulat rupiah yang lebih dari nol",
    "billing_code must be a valid 15-digit billing code": "billing_code harus kode billing 15 angka yang sah",
    "bank_reference must be 1-64 characters of letters, digits and ._:/-":
        "bank_reference harus 1-64 karakter berupa huruf, angka, dan ._:/-",
    "search for an application id, a billing code, a NIK or at least 3 letters of a name":
        "cari dengan nomor permohonan, kode billing, NIK, atau paling sedikit 3 huruf nama",
    "a reason is required for a quota change": "alasan wajib diisi untuk perubahan kuota",
    "a reason is required": "alasan wajib diisi",
    "name the organisation (3-200 characters)": "tuliskan nama organisasi (3-200 karakter)",
    "give the address of the session (5-300 characters)": "tuliskan alamat tempat layanan (5-300 karakter)",
    "a phone number such as 081234567890": "nomor telepon, mis. 081234567890",
    "a working day of the office after today": "hari kerja kantor setelah hari ini",
    "entries_open_at must be before entries_close_at": "entries_open_at harus sebelum entries_close_at",
    "entries_close_at must be in the future": "entries_close_at harus di masa depan",
    "draw_at must not be before entries_close_at": "draw_at tidak boleh sebelum entries_close_at",
    "the draw must happen before the day of the appointments": "pengundian harus sebelum hari janji temu",
    "to_date must be a later day than today and differ from date":
        "to_date harus hari setelah hari ini dan berbeda dari date",
    "from must not be after to": "from tidak boleh setelah to",
    "group must be day, month or year": "group harus day, month, atau year",
    "NIK does not match the birth date (digits 7-12 are DDMMYY, day + 40 for women)":
        "NIK tidak cocok dengan tanggal lahir (digit 7-12 adalah DDMMYY, tanggal + 40 untuk perempuan)",
    "phone must be an Indonesian mobile number like 081234567890 or +6281234567890":
        "phone harus nomor ponsel Indonesia, mis. 081234567890 atau +6281234567890",
    "a 10-year passport is for applicants aged 17 or over": "paspor 10 tahun untuk pemohon berusia 17 tahun ke atas",
    "ELDERLY is for applicants aged 60 or over": "ELDERLY untuk pemohon berusia 60 tahun ke atas",
    "CHILD_UNDER_5 is for a child under 5: apply with the child's own account (NIK)":
        "CHILD_UNDER_5 untuk anak di bawah 5 tahun: ajukan dengan akun (NIK) anak itu sendiri",
    "PREGNANT does not fit the sex this NIK records": "PREGNANT tidak sesuai dengan jenis kelamin yang tercatat di NIK ini",
    "passport_number is one or two letters and 6-7 digits, e.g. X1234567":
        "passport_number terdiri dari satu atau dua huruf dan 6-7 angka, mis. X1234567",
    "delivery by Pos Indonesia needs the full address": "pengiriman lewat Pos Indonesia memerlukan alamat lengkap",
    "a Pos Indonesia tracking number (8-30 letters and digits) is required":
        "nomor resi Pos Indonesia (8-30 huruf dan angka) wajib diisi",
    "a passport for pickup has no tracking number": "paspor yang diambil di kantor tidak memiliki nomor resi",
    "staff belong to one office": "petugas hanya terdaftar di satu kantor",
    "the code is wrong, expired or already used": "kode salah, kedaluwarsa, atau sudah dipakai",
    "password needs at least 10 characters with a letter and a digit":
        "kata sandi paling sedikit 10 karakter dengan huruf dan angka",
    "send either an image or a missing_reason, not both": "kirim gambar atau missing_reason, bukan keduanya",
    "a fingerprint image (file) or a missing_reason is required":
        "gambar sidik jari (file) atau missing_reason wajib diisi",
    "reason is required: why can no finger be scanned?": "alasan wajib diisi: mengapa tidak ada jari yang dapat dipindai?",
    "finger must be an ISO finger position 1-10": "finger harus posisi jari ISO 1-10",
    "the examination report (bap) is only for lost or damaged passports":
        "berita acara pemeriksaan (bap) hanya untuk paspor hilang atau rusak",
    "bap.circumstances is required to approve a lost or damaged passport replacement":
        "bap.circumstances wajib diisi untuk menyetujui penggantian paspor hilang atau rusak",
    "no application with this id that you may see": "tidak ada permohonan dengan id ini yang boleh Anda lihat",
    "application_id is required and must be a valid id": "application_id wajib diisi dan harus id yang sah",
    "an anonymous report cannot reference an application": "pengaduan anonim tidak dapat merujuk ke permohonan",
    "a named report is answered through your account; leave no contact":
        "pengaduan atas nama Anda dijawab lewat akun Anda; kosongkan kontak",
    "contact_phone must be a mobile number like 081234567890": "contact_phone harus nomor ponsel, mis. 081234567890",
    "not staff of this office": "bukan petugas kantor ini",
    "not the reporter's application": "bukan permohonan pelapor",
    "a police loss report belongs to a LOST_PASSPORT report":
        "surat kehilangan dari kepolisian hanya untuk laporan LOST_PASSPORT",
    "the file is not a JPEG or PNG image": "berkas bukan gambar JPEG atau PNG",
    "the image header states an empty image": "kepala gambar menyatakan gambar kosong",
    "the PNG file is corrupt (chunk checksum mismatch)": "berkas PNG rusak (checksum tidak cocok)",
    "the PNG file has no valid header": "berkas PNG tidak memiliki kepala yang sah",
    "the PNG file is truncated": "berkas PNG terpotong",
    "the PNG file has an unknown colour type": "jenis warna berkas PNG tidak dikenal",
    "the JPEG file is corrupt (bad marker)": "berkas JPEG rusak (penanda salah)",
    "the JPEG file is corrupt (bad segment length)": "berkas JPEG rusak (panjang segmen salah)",
    "the JPEG file is truncated (no end-of-image marker)": "berkas JPEG terpotong (tanpa penanda akhir gambar)",
    "the JPEG file has no frame header": "berkas JPEG tidak memiliki kepala frame",
    "the image cannot be decoded (corrupt or truncated)": "gambar tidak dapat dibaca (rusak atau terpotong)",
    "fingerprints must be PNG files": "sidik jari harus berkas PNG",
}
GENERIC_ERROR = "isian ini belum benar"


def indonesian_error(message: str) -> str:
    """One errors[].message in Bahasa Indonesia (see ERROR_SHAPES); GENERIC_ERROR when unknown."""
    message = (message or "").strip()
    if message in ERROR_SENTENCES:
        return ERROR_SENTENCES[message]
    for pattern, words in ERROR_SHAPES:
        match = pattern.fullmatch(message)
        if match:
            values = {k: v or "" for k, v in match.groupdict().items()}
            return words(**values) if callable(words) else words.format_map(values)
    return GENERIC_ERROR


def indonesian_errors(errors: list[dict]) -> list[dict]:
    """errors[] with each `message` in Bahasa Indonesia; `field` (and anything else) unchanged."""
    return [dict(e, message=indonesian_error(e["message"])) if isinstance(e.get("message"), str) else e
            for e in errors]

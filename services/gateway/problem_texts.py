"""The one catalogue of problem texts in Bahasa Indonesia: problem slug -> (title, detail).

English answers keep the services' own detail (it may name a time or a field); an Indonesian answer
takes the catalogue's title and detail for its slug, or the generic ones of its HTTP status when the
slug is not listed here (a unit test lists every slug the code can raise, so none is forgotten).
Plain words, addressed to the applicant or officer; the `type` URI never changes.
"""
from __future__ import annotations

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

"""gRPC servicers of AccountService and BookingService: requests in, use cases called, replies mapped out."""
from __future__ import annotations

from passport.v1 import accounts_pb2, accounts_pb2_grpc, booking_pb2, booking_pb2_grpc

from servicekit.errors import invalid

from services.booking.adapters.accounts import Accounts, public_view
from services.booking.adapters.mapping import document_proto, office_proto, slot_proto, to_proto
from services.booking.usecases.facade import Applications
from services.booking.usecases.login import Login
from services.booking.usecases.registration import Registration
from services.booking.usecases.waitlist import Waitlist


class AccountServicer(accounts_pb2_grpc.AccountServiceServicer):
    def __init__(self, accounts: Accounts, login: Login, registration: Registration):
        self.accounts, self.login, self.registration = accounts, login, registration

    def Register(self, request, context):
        doc = self.registration.register(request.nik, request.full_name, request.birth_date, request.email,
                                     request.phone, request.password)
        return accounts_pb2.Account(**public_view(doc))

    def CreateStaff(self, request, context):
        doc = self.accounts.create_staff(request.full_name, request.email, request.password, request.role,
                                         request.office_id)
        return accounts_pb2.Account(**public_view(doc))

    def Authenticate(self, request, context):
        return accounts_pb2.Account(**public_view(self.login.authenticate(request.email, request.password, request.otp)))

    def StartTotpEnrolment(self, request, context):
        secret, uri = self.login.start_enrolment(request.email, request.password)
        return accounts_pb2.TotpEnrolment(secret=secret, otpauth_uri=uri)

    def ConfirmTotpEnrolment(self, request, context):
        doc, codes = self.login.confirm_enrolment(request.email, request.password, request.otp)
        return accounts_pb2.Account(**public_view(doc), recovery_codes=codes)

    def GetAccount(self, request, context):
        return accounts_pb2.Account(**public_view(self.accounts.get(request.account_id)))

    def GetContact(self, request, context):
        doc = self.accounts.get(request.account_id)
        return accounts_pb2.Contact(account_id=doc["_id"], full_name=doc["full_name"],
                                    email=doc.get("email", ""), phone=doc.get("phone", ""))


    def ListStaff(self, request, context):
        if request.role and request.role not in ("OFFICER", "SUPERVISOR"):
            raise invalid("role must be OFFICER or SUPERVISOR", "role")
        return accounts_pb2.ListStaffResponse(items=[
            accounts_pb2.Account(**public_view(d)) for d in self.accounts.staff_of(request.office_id, request.role)])

    def RequestPasswordReset(self, request, context):
        self.accounts.request_password_reset(request.email)
        return accounts_pb2.PasswordResetAccepted()

    def ConfirmPasswordReset(self, request, context):
        doc = self.accounts.confirm_password_reset(request.email, request.code, request.new_password)
        return accounts_pb2.Account(**public_view(doc))


class BookingServicer(booking_pb2_grpc.BookingServiceServicer):
    def __init__(self, applications: Applications, accounts: Accounts, waitlist: Waitlist):
        self.apps, self.accounts, self.waitlist = applications, accounts, waitlist

    def ListOffices(self, request, context):
        holidays = sorted(d.isoformat() for d in self.apps.calendar.holidays)
        return booking_pb2.ListOfficesResponse(items=[office_proto(o, holidays)
                                                      for o in self.apps.calendar.offices.values()])

    def ListSlots(self, request, context):
        return booking_pb2.ListSlotsResponse(items=[
            slot_proto(s) for s in self.apps.published_slots(request.office_id, request.date, request.lane)])

    def SetQuota(self, request, context):
        changed = self.apps.set_capacity(request.caller, request.office_id, request.date, request.lane,
                                         request.start_time, request.capacity, request.reason)
        return booking_pb2.SetQuotaResponse(slots_changed=changed)

    def CheckIn(self, request, context):
        number = self.apps.check_in(request.caller, request.office_id, request.application_id,
                                    request.priority_decision)
        return booking_pb2.CheckInResponse(queue_number=number, application_id=request.application_id)

    def CreateApplication(self, request, context):
        account = self.accounts.get(request.caller.account_id)
        return to_proto(self.apps.create(account, request.office_id, request.passport_type,
                                         request.validity_years, request.service_type, request.express,
                                         request.priority_group))

    def GetApplication(self, request, context):
        return to_proto(self.apps.view(self.apps.get(request.caller, request.application_id), request.caller))

    def ListApplications(self, request, context):
        return booking_pb2.ListApplicationsResponse(
            items=[to_proto(self.apps.view(h)) for h in self.apps.list_for(request.caller.account_id)])

    def BookAppointment(self, request, context):
        return to_proto(self.apps.book(request.caller, request.application_id, request.slot_id,
                                       invitation_code=request.invitation_code))

    def UploadDocument(self, request, context):
        return document_proto(self.apps.upload_document(request.caller, request.application_id, request.kind,
                                                        request.content))

    def ListDocuments(self, request, context):
        return booking_pb2.ListDocumentsResponse(
            items=[document_proto(d) for d in self.apps.list_documents(request.caller, request.application_id)])

    def CancelAppointment(self, request, context):
        return to_proto(self.apps.cancel(request.caller, request.application_id))

    def RescheduleAppointment(self, request, context):
        return to_proto(self.apps.reschedule(request.caller, request.application_id, request.slot_id))

    def JoinWaitlist(self, request, context):
        return booking_pb2.JoinWaitlistResponse(position=self.waitlist.join(
            request.caller, request.application_id, request.date, request.lane))

    def GetWaitlistPosition(self, request, context):
        return booking_pb2.WaitlistPosition(**self.waitlist.position_of(request.caller, request.application_id))

    def RescheduleOfficeDay(self, request, context):
        moved, cancelled = self.apps.reschedule_office_day(request.caller, request.office_id, request.date,
                                                           request.to_date, request.reason)
        return booking_pb2.RescheduleOfficeDayResponse(moved=moved, cancelled=cancelled)

    def IssuePassport(self, request, context):
        return to_proto(self.apps.issue(request.caller, request.application_id, request.passport_number,
                                        request.delivery, request.address))

    def HandOver(self, request, context):
        return to_proto(self.apps.hand_over(request.caller, request.application_id, request.tracking_number))

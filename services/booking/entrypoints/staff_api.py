"""gRPC StaffService: the head of an office manages its officers (callable by the gateway only)."""
from __future__ import annotations

from passport.v1 import staff_pb2, staff_pb2_grpc

from services.booking.adapters.mapping import staff_account_proto
from services.booking.usecases.staff import Staff


class StaffServicer(staff_pb2_grpc.StaffServiceServicer):
    def __init__(self, staff: Staff):
        self.staff = staff

    def ListOfficeStaff(self, request, context):
        return staff_pb2.ListOfficeStaffResponse(
            items=[staff_account_proto(d) for d in self.staff.list(request.caller, request.office_id)])

    def CreateOfficer(self, request, context):
        doc, password = self.staff.create_officer(request.caller, request.office_id, request.full_name, request.email)
        return staff_account_proto(doc, password)

    def ResetPassword(self, request, context):
        doc, password = self.staff.reset_password(request.caller, request.office_id, request.account_id)
        return staff_account_proto(doc, password)

    def ResetTotp(self, request, context):
        return staff_account_proto(self.staff.reset_second_factor(request.caller, request.office_id, request.account_id))

    def Deactivate(self, request, context):
        return staff_account_proto(self.staff.deactivate(request.caller, request.office_id, request.account_id))

    def GetTokenState(self, request, context):
        active, version = self.staff.token_state(request.account_id)
        return staff_pb2.TokenState(active=active, token_version=version)

"""Thin gRPC entrypoint of the complaint service: requests in, use cases called, protos out."""
from __future__ import annotations

from passport.v1 import complaint_pb2, complaint_pb2_grpc

from services.complaint.adapters import protos
from services.complaint.usecases.complaints import Complaints


class ComplaintServicer(complaint_pb2_grpc.ComplaintServiceServicer):
    def __init__(self, complaints: Complaints):
        self.complaints = complaints

    def FileComplaint(self, request, context):
        record, pin = self.complaints.file(request.caller, request.category, request.office_id,
                                           request.description, request.application_id, request.anonymous,
                                           request.contact_email, request.contact_phone, request.contact_language)
        return protos.filed_proto(record, pin)

    def GetComplaintByTrackingCode(self, request, context):
        complaint = self.complaints.by_tracking_code(request.caller, request.tracking_code, request.access_pin)
        return self.complaints.view(complaint, staff=complaint.is_staff(request.caller))

    def RespondToComplaint(self, request, context):
        record = self.complaints.respond(request.caller, request.complaint_id, request.message, request.status)
        return protos.response_proto(record)

    def ListOfficeComplaints(self, request, context):
        return complaint_pb2.ListOfficeComplaintsReply(
            items=self.complaints.list_for_office(request.caller, request.office_id, request.status,
                                                  request.assignee))

    def ListMyComplaints(self, request, context):
        return complaint_pb2.ListOfficeComplaintsReply(
            items=self.complaints.list_for_account(request.caller, request.application_id))

    def GetReporterContact(self, request, context):
        contact = self.complaints.reporter_contact(request.complaint_id)
        return complaint_pb2.ReporterContact(email=contact.get("email", ""), phone=contact.get("phone", ""))

    def GetComplaintStatistics(self, request, context):
        return self.complaints.statistics(request.office_id, request.month)

    def AddAttachment(self, request, context):
        record = self.complaints.add_attachment(request.caller, request.tracking_code, request.access_pin,
                                                request.kind, request.data)
        return protos.attachment_proto(record)

    def GetAttachment(self, request, context):
        record = self.complaints.get_attachment(request.caller, request.complaint_id, request.tracking_code,
                                                request.access_pin, request.attachment_id)
        return complaint_pb2.AttachmentContent(attachment=protos.attachment_proto(record), data=bytes(record["data"]))

    def AssignComplaint(self, request, context):
        return protos.assignment_proto(self.complaints.assign(request.caller, request.complaint_id,
                                                              request.officer_account_id))

    def LinkApplication(self, request, context):
        return protos.link_proto(self.complaints.link(request.caller, request.complaint_id, request.application_id))

    def GetReplacementReport(self, request, context):
        return self.complaints.replacement_report(request.application_id)

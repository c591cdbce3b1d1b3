"""gRPC adapter of CounterService (hosted by the booking process)."""
from __future__ import annotations

from passport.v1 import booking_pb2, booking_pb2_grpc

from services.booking.usecases.counter import Counter


class CounterServicer(booking_pb2_grpc.CounterServiceServicer):
    def __init__(self, counter: Counter):
        self.counter = counter

    def ListAppointments(self, request, context):
        out = self.counter.appointments(request.caller, request.office_id, request.date, request.lane,
                                        request.page or 1, request.page_size or 50)
        return booking_pb2.ListAppointmentsResponse(**dict(out, items=[booking_pb2.CounterRow(**r) for r in out["items"]]))

    def FindApplications(self, request, context):
        rows = self.counter.find(request.caller, request.office_id, request.query)
        return booking_pb2.ListAppointmentsResponse(office_id=request.office_id, total=len(rows), page=1,
                                                    page_size=len(rows), items=[booking_pb2.CounterRow(**r) for r in rows])

    def ReadDocument(self, request, context):
        return booking_pb2.DocumentContent(**self.counter.read_document(request.caller, request.application_id,
                                                                        request.document_id))

    def ListDocumentReads(self, request, context):
        return booking_pb2.ListDocumentReadsResponse(items=[
            booking_pb2.DocumentRead(**r) for r in self.counter.document_reads(request.caller, request.application_id)])

    def CallNext(self, request, context):
        return booking_pb2.QueueCall(**self.counter.call_next(request.caller, request.office_id, request.desk))

    def Recall(self, request, context):
        return booking_pb2.QueueCall(**self.counter.recall(request.caller, request.office_id, request.number,
                                                           request.desk))

    def Skip(self, request, context):
        return booking_pb2.QueueCall(**self.counter.skip(request.caller, request.office_id, request.number))

    def ListCalls(self, request, context):
        out = self.counter.called(request.office_id, request.date)
        return booking_pb2.ListCallsResponse(**dict(out, items=[booking_pb2.QueueCall(**c) for c in out["items"]]))

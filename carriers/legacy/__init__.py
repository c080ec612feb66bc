"""Pure parsers for the older formats of supported carriers, kept so recorded replies stay readable.

USPS Web Tools TrackV2 XML, UPS XML Track, FedEx SOAP TrackReply v7, DHL XML-PI tracking
(Express), DHL Parcel DE (piece-shipment-list) and MyDHL API JSON. Each takes a ``CarrierReply``
and returns ``TrackingResult`` objects like an adapter's ``parse``; unknown numbers come back
``not_found`` and carrier errors map onto the error tree.
"""

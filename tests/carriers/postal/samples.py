"""Small replies written for these tests, in each API's documented format (always available)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postal"

CANADA_POST_DETAIL = b"""<?xml version="1.0" encoding="UTF-8"?>
<tracking-detail xmlns="http://www.canadapost.ca/ws/track">
  <pin>1234567890123456</pin>
  <expected-delivery-date>2024-05-10</expected-delivery-date>
  <changed-expected-date/>
  <service-name>Expedited Parcels</service-name>
  <significant-events>
    <occurrence>
      <event-identifier>1496</event-identifier>
      <event-date>2024-05-09</event-date>
      <event-time>15:04:05</event-time>
      <event-time-zone>PDT</event-time-zone>
      <event-description>Item successfully delivered</event-description>
      <event-site>VANCOUVER</event-site>
      <event-province>BC</event-province>
      <event-retail-name/>
    </occurrence>
    <occurrence>
      <event-identifier>0100</event-identifier>
      <event-date>2024-01-15</event-date>
      <event-time>06:00:00</event-time>
      <event-time-zone/>
      <event-description>Item processed</event-description>
      <event-site>WINNIPEG</event-site>
      <event-province>MB</event-province>
    </occurrence>
  </significant-events>
</tracking-detail>
"""

CANADA_POST_NO_HISTORY = b"""<?xml version="1.0" encoding="UTF-8"?>
<messages xmlns="http://www.canadapost.ca/ws/messages">
  <message><code>004</code><description>No Pin History</description></message>
</messages>
"""

AUSTRALIA_POST = json.dumps(
    {
        "tracking_results": [
            {
                "tracking_id": "33XYZ000000001",
                "status": "In transit",
                "trackable_items": [
                    {
                        "article_id": "33XYZ000000001",
                        "product_type": "Parcel Post",
                        "status": "In transit",
                        "events": [
                            {
                                "location": "MELBOURNE VIC",
                                "description": "Item processed at facility",
                                "date": "2024-06-01T09:10:11+10:00",
                                "code": "AFC",
                            }
                        ],
                    }
                ],
            },
            {
                "tracking_id": "BAD",
                "errors": [{"code": "ESB-10002", "name": "Tracking ID not found"}],
            },
        ]
    }
).encode()

LA_POSTE = json.dumps(
    {
        "lang": "fr_FR",
        "returnCode": 200,
        "shipment": {
            "idShip": "6A12345678901",
            "product": "colissimo",
            "event": [
                {
                    "code": "PC1",
                    "label": "Votre colis a été déposé.",
                    "date": "2024-02-01T10:00:00+01:00",
                },
                {
                    "code": "DI1",
                    "label": "Votre colis est livré.",
                    "date": "2024-02-03T12:30:00+01:00",
                },
            ],
            "timeline": [
                {"shortLabel": "Pris en charge", "status": True},
                {"shortLabel": "Livré", "status": False},
            ],
        },
    }
).encode()

LA_POSTE_NOT_FOUND = json.dumps(
    {"returnCode": 404, "returnMessage": "Numéro de suivi introuvable", "idShip": "6A0"}
).encode()


def correios_rastro(message: str | None = None) -> dict[str, object]:
    """A srorastro/v1/objetos reply: one object with events, or with only a message."""
    if message:
        return {"objetos": [{"codObjeto": "AA123456785BR", "mensagem": message}], "quantidade": 1}
    return {
        "versao": "1.0.0",
        "quantidade": 1,
        "objetos": [
            {
                "codObjeto": "AA123456785BR",
                "tipoPostal": {"sigla": "AA", "descricao": "ETIQUETA LOGICA SEDEX"},
                "dtPrevista": "2024-04-12T23:59:59",
                "eventos": [
                    {
                        "codigo": "BDE",
                        "tipo": "01",
                        "dtHrCriado": "2024-04-10T14:25:31",
                        "descricao": "Objeto entregue ao destinatário",
                        "unidade": {
                            "tipo": "Unidade de Distribuição",
                            "endereco": {"cidade": "SÃO PAULO", "uf": "SP"},
                        },
                    },
                    {
                        "codigo": "PAR",
                        "tipo": "17",
                        "dtHrCriado": "2024-04-02T08:00:00-03:00",
                        "descricao": "Fiscalização aduaneira finalizada",
                        "detalhe": "Pagamento confirmado",
                        "unidade": {"nome": "CURITIBA", "tipo": "Unidade Operacional"},
                    },
                    {
                        "codigo": "PO",
                        "tipo": "01",
                        "dtHrCriado": "2024-03-20T11:00:00",
                        "descricao": "Objeto postado",
                        "unidade": {"nome": "CHINA", "tipo": "País", "endereco": {}},
                    },
                ],
            }
        ],
    }


CORREIOS_TOKEN = {"ambiente": "PRODUCAO", "token": "tok-1", "expiraEm": "2099-01-01T00:00:00"}

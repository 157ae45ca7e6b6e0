"""Synthetic applicants, experts and behaviours for the demo, deterministic per seed.

Local and regional authorities and NGOs across the participating Member States form
consortia; a share of proposals is deliberately late, incomplete or ineligible (a Danish
partner, a one-country consortium, a grant above 90 % of the costs, a missing part), some are
withdrawn; evaluators disagree now and then, declare conflicts or decline; coordinators
mostly sign, some decline, some let the deadline pass. The result is an ordinary scenario
document (docs/scenarios.md), validated by the same loader as a scenario file.

Each topic's requests are drawn from that topic's grant range in the call file (the
``grant_range`` rule that applies to it), capped at the topic's budget: a request above the
budget could never be funded, and a small topic (AMIF-2018-AG-INTE-5, EUR 500,000) would
fund nobody.
"""
from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo


from grantflow.scenario.loader import load_scenario_document
from grantflow.scenario.model import Scenario
from shared.calls.loader import load_default_call
from shared.calls.model import Call

BRUSSELS = ZoneInfo("Europe/Brussels")
DEADLINE = datetime(2019, 1, 31, 17, 0, tzinfo=BRUSSELS)

CITIES = {
    "AT": ["Graz", "Linz", "Innsbruck"], "BE": ["Gent", "Liège", "Antwerpen"],
    "BG": ["Plovdiv", "Varna"], "CY": ["Limassol"], "CZ": ["Brno", "Ostrava"],
    "DE": ["Leipzig", "Hamburg", "Dortmund", "Mannheim"], "EE": ["Tartu"],
    "ES": ["Valencia", "Bilbao", "Zaragoza", "Málaga"], "FI": ["Tampere", "Turku"],
    "FR": ["Lyon", "Nantes", "Lille", "Strasbourg"], "GR": ["Thessaloniki", "Patras"],
    "HR": ["Rijeka", "Split"], "HU": ["Pécs", "Szeged"], "IE": ["Cork", "Galway"],
    "IT": ["Bologna", "Torino", "Bari", "Palermo"], "LT": ["Kaunas"], "LU": ["Esch-sur-Alzette"],
    "LV": ["Riga"], "MT": ["Birgu"], "NL": ["Utrecht", "Eindhoven", "Groningen"],
    "PL": ["Gdańsk", "Wrocław", "Poznań"], "PT": ["Porto", "Braga"], "RO": ["Cluj-Napoca", "Iași"],
    "SE": ["Malmö", "Göteborg", "Uppsala"], "SI": ["Maribor"], "SK": ["Košice"],
    "GB": ["Glasgow", "Bristol", "Leeds"],
}
AUTHORITY_NAME = {"FR": "Ville de {}", "DE": "Stadt {}", "AT": "Stadt {}", "IT": "Comune di {}",
                  "ES": "Ayuntamiento de {}", "NL": "Gemeente {}", "BE": "Stad {}",
                  "PL": "Miasto {}", "PT": "Câmara Municipal de {}", "SE": "{} kommun",
                  "FI": "{}n kaupunki", "GR": "Dimos {}"}
NGO_NAMES = ["{} Refugee Council", "Caritas {}", "{} Migrant Centre", "{} Welcome Network",
             "{} Integration Forum"]
AREAS = {
    "local_regional_strategies": ["strategy", "policy", "governance", "planning"],
    "one_stop_shops": ["one-stop-shop", "integration centre", "counselling", "orientation"],
    "education_training": ["education", "schools", "language courses", "vocational training"],
    "housing": ["housing", "accommodation", "urban regeneration", "tenancy"],
    "basic_services_health": ["health", "mental health", "social services", "basic services"],
    "labour_market": ["employment", "skills recognition", "entrepreneurship", "jobs"],
    "participation_inclusion": ["participation", "volunteering", "civic inclusion", "sport"],
    "host_society_exchanges": ["awareness", "media", "intercultural dialogue", "campaigns"],
}
FIRST = ["Ana", "Ben", "Chiara", "Dorota", "Elias", "Fatima", "Georg", "Hanna", "Ivo", "Julia",
         "Karel", "Lena", "Marta", "Niko", "Olga", "Pieter", "Rosa", "Sami", "Teresa", "Viktor"]
LAST = ["Lopes", "Novak", "Rossi", "Kowalska", "Schmidt", "Dubois", "Jansen", "Nagy",
        "Papadopoulou", "García", "Virtanen", "Murphy", "Horvat", "Berg", "Costa", "Ionescu"]
TOPICS = [("AMIF-2018-AG-INTE-1", 0.40), ("AMIF-2018-AG-INTE-2", 0.25),
          ("AMIF-2018-AG-INTE-3", 0.15), ("AMIF-2018-AG-INTE-4", 0.12),
          ("AMIF-2018-AG-INTE-5", 0.08)]
PARTICIPATING = sorted(CITIES)


def grant_ranges(call: Call) -> dict[str, tuple[Decimal, Decimal]]:
    """Per topic, the requests that can be eligible and funded: the topic's ``grant_range``
    rule (the last one that applies, as in the file), its maximum capped at the budget."""
    ranges = {}
    for topic in call.topics:
        low, high = Decimal(0), topic.budget
        for rule in call.rules_for(topic.id):
            if rule.id == "grant_range":
                low, high = Decimal(rule.params["min"]), Decimal(rule.params["max"])
        ranges[topic.id] = (low, min(high, topic.budget))
    return ranges


class _Generator:
    def __init__(self, seed: int, ranges: dict[str, tuple[Decimal, Decimal]]):
        self.rng = random.Random(seed)
        self.organisations = 0
        self.ranges = ranges

    def organisation(self, country: str, kind: str) -> dict:
        self.organisations += 1
        city = self.rng.choice(CITIES.get(country, ["Aarhus", "Odense"]))
        if kind == "authority":
            name = AUTHORITY_NAME.get(country, "City of {}").format(city)
            entity_type, lra = "public_body", True
        else:
            name = self.rng.choice(NGO_NAMES).format(city)
            entity_type, lra = "non_profit_private", False
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = "".join(ch for ch in ascii_name.lower() if ch.isalnum())[:18]
        return {"legal_name": name, "organisation_id": f"PIC-{9000000 + self.organisations}",
                "country": country, "entity_type": entity_type,
                "local_or_regional_authority": lra,
                "experienced_in_integration": self.rng.random() < 0.5,
                "contact_email": f"contact{self.organisations}@{slug}.example"}

    def consortium(self, flaw: str | None) -> list[dict]:
        size = self.rng.randint(3, 6)
        countries = self.rng.sample(PARTICIPATING, k=min(size, 4))
        if flaw == "one_country":
            countries = countries[:1]
        members = []
        for index in range(size):
            country = countries[index % len(countries)]
            kind = "authority" if index == 0 or self.rng.random() < 0.6 else "ngo"
            members.append(self.organisation(country, kind))
        if flaw == "danish_partner":
            members[-1] = self.organisation("DK", "authority")
        return members

    def proposal(self, index: int, flaw: str | None) -> dict:
        topic = self.rng.choices([t for t, _ in TOPICS], weights=[w for _, w in TOPICS])[0]
        areas = self.rng.sample(sorted(AREAS), k=self.rng.randint(2, 4))
        words = [w for area in areas for w in AREAS[area]]
        members = self.consortium(flaw)
        low, high = self.ranges[topic]
        # whole thousands inside the range (both edges are eligible)
        requested = Decimal(self.rng.randrange(int(-(-low // 1000)), int(high // 1000) + 1)) * 1000
        rate = Decimal(self.rng.choice(["0.75", "0.80", "0.85", "0.90"]))
        if flaw == "over_90":
            rate = Decimal("0.93")
        costs = (requested / rate).quantize(Decimal("1"), rounding=ROUND_CEILING)
        acronym = f"{''.join(self.rng.choice('ABCDEFGHIKLMNOPRSTUVW') for _ in range(4))}{index:03d}"
        quality = max(40.0, min(97.0, self.rng.gauss(74, 9)))
        spread = 15.0 if self.rng.random() < 0.05 else 3.0
        evaluation = {"quality": round(quality, 1), "spread": spread}
        roll = self.rng.random()
        if roll < 0.02:
            evaluation["conflicts"] = ["any"]
        elif roll < 0.04:
            evaluation["declines"] = ["any"]
        grant_roll = self.rng.random()
        return {
            "ref": f"p{index:03d}", "topic": topic, "acronym": acronym,
            "title": f"{members[0]['legal_name']} and partners: {' and '.join(words[:2])} "
                     f"for the integration of third-country nationals",
            "abstract": f"A network of {len(members)} partners exchanging practice on "
                        f"{', '.join(words)}. Local and regional authorities with and without "
                        "experience of integration work together on concrete pilots.",
            "integration_areas": areas, "duration_months": self.rng.choice([18, 24, 30, 36]),
            "total_eligible_costs": str(costs), "requested_grant": str(requested),
            "coordinator": members[0], "co_applicants": members[1:],
            "parts": ["part_a", "budget"] if flaw == "missing_part" else ["part_a", "part_b", "budget"],
            "actions": self.actions(flaw),
            "evaluation": evaluation,
            "grant": "sign" if grant_roll < 0.80 else ("decline" if grant_roll < 0.90 else "ignore"),
        }

    def actions(self, flaw: str | None) -> list[dict]:
        # most submissions come in the last days, many in the last hours
        hours_before = self.rng.choice([24 * 20, 24 * 10, 24 * 5, 24 * 2, 24, 6, 2])
        first = DEADLINE - timedelta(hours=hours_before)
        actions = [{"at": first.isoformat(), "do": "submit"}]
        if flaw == "late":
            return [{"at": (DEADLINE + timedelta(minutes=5)).isoformat(), "do": "submit"}]
        if self.rng.random() < 0.25:
            actions.append({"at": (DEADLINE - timedelta(hours=1)).isoformat(), "do": "resubmit",
                            "change": {"abstract": "Revised after partner feedback."}})
        if flaw == "late_resubmission":
            actions.append({"at": (DEADLINE + timedelta(minutes=1)).isoformat(),
                            "do": "resubmit", "change": {"title": "Too late to count"}})
        if flaw == "withdrawn":
            actions.append({"at": (DEADLINE - timedelta(minutes=30)).isoformat(),
                            "do": "withdraw", "reason": "the consortium could not agree"})
        if flaw == "withdrawn_in_evaluation":
            actions.append({"at": (DEADLINE + timedelta(days=20)).isoformat(),
                            "do": "withdraw", "reason": "the coordinator lost its co-funding"})
        return actions

    def expert(self, index: int, applicant_organisations: list[dict]) -> dict:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        areas = self.rng.sample(sorted(AREAS), k=self.rng.randint(2, 3))
        keywords = sorted({w for area in areas for w in self.rng.sample(AREAS[area], 2)})
        organisation = f"EXP-ORG-{index:04d}"
        if applicant_organisations and self.rng.random() < 0.03:
            # some experts work for an applicant organisation: automatic conflicts of interest
            organisation = self.rng.choice(applicant_organisations)["organisation_id"]
        return {"id": f"EXP-{index:04d}", "name": f"{first} {last}", "email": f"{first}.{last}.{index}@experts.example".lower(),
                "country": self.rng.choice(PARTICIPATING), "organisation_id": organisation,
                "expertise_areas": areas, "keywords": keywords,
                "max_load": self.rng.randint(6, 12), "languages": ["en"]}


FLAWS = [("late", 0.03), ("late_resubmission", 0.03), ("withdrawn", 0.02),
         ("withdrawn_in_evaluation", 0.02), ("danish_partner", 0.04), ("one_country", 0.03),
         ("over_90", 0.03), ("missing_part", 0.04)]


def synthetic_document(proposals: int, experts: int, seed: int) -> dict:
    generator = _Generator(seed, grant_ranges(load_default_call()))
    items = []
    for index in range(proposals):
        roll, flaw, acc = generator.rng.random(), None, 0.0
        for name, share in FLAWS:
            acc += share
            if roll < acc:
                flaw = name
                break
        items.append(generator.proposal(index, flaw))
    organisations = [p["coordinator"] for p in items] + [m for p in items for m in p["co_applicants"]]
    pool = [generator.expert(index, organisations) for index in range(experts)]
    return {"name": f"demo-{proposals}x{experts}-seed{seed}",
            "description": "Synthetic AMIF-2018-AG-INTE applicants, experts and behaviours",
            "experts": pool, "proposals": items,
            "evaluation": {"report_after_days": 10, "spread_resolution": "note"},
            "grants": {"act_after_days": 14, "authority": "sign"}}


def synthetic_scenario(proposals: int = 200, experts: int = 80, seed: int = 2019) -> Scenario:
    return load_scenario_document(synthetic_document(proposals, experts, seed))

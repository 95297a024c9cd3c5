"""First names and surnames of the sample population.

Every name is encodable in Windows-1252 (cp1252 senders must be able to write it) and many carry
é, è, ç, œ or the typographic apostrophe ’ (0x92 in cp1252): a file read with the wrong encoding
shows it at once.
"""

from __future__ import annotations

PRENOMS_F = (
    "Aïcha", "Amélie", "Aminata", "Anaïs", "Bénédicte", "Céline", "Chloé", "Fatoumata", "Fatima",
    "Hélène", "Inès", "Kadiatou", "Léa", "Leïla", "Mariam", "Marie-Thérèse", "Maëlle", "Nadège",
    "Naïma", "Noémie", "Océane", "Rokia", "Salomé", "Sandrine", "Sophie", "Thérèse", "Yasmine",
    "Zoé", "Françoise", "Agnès", "Élodie", "Gaëlle", "Jacqueline", "Linda", "Awa", "Nour",
)
PRENOMS_M = (
    "Abdoulaye", "Ahmed", "Alexandre", "André", "Bakary", "Benoît", "Cédric", "Clément", "Djibril",
    "Éric", "François", "Frédéric", "Gaël", "Grégoire", "Hervé", "Ibrahima", "Jérôme", "José",
    "Karim", "Loïc", "Mamadou", "Mehdi", "Moussa", "Noël", "Olivier", "Rachid", "Raphaël", "Rémi",
    "Sébastien", "Stéphane", "Théo", "Yannick", "Youssef", "Zinédine", "Jean-Noël", "Ousmane",
)
NOMS = (
    "N’Diaye", "D’Almeida", "Diallo", "Traoré", "Coulibaly", "Camara", "Koné", "Benali", "Haddad",
    "Lefèvre", "Lemaître", "Mercier", "Crèvecœur", "Lebœuf", "Desœuvre", "Martin", "Bernard",
    "Dubois", "Durand", "Moreau", "Garnier", "Fontaine", "Rousseau", "Gauthier", "Chevalier",
    "François", "Ferreira", "Gonçalves", "Da Silva", "Nguyen", "Trần", "Benhaddou", "Belkacem",
    "Mansouri", "Kanté", "Sissoko", "Doucouré", "Boucher", "Brûlé", "Gagné", "Hénault",
    "L’Hôte", "Dupré", "Bégué", "Zidane", "Mbappé", "Ouédraogo", "Sané", "Pépin", "Cœurderoy",
)
NOMS = tuple(n for n in NOMS if n.encode("cp1252", errors="ignore").decode("cp1252") == n)

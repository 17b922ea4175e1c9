"""Name, postcode and free-text pools for a believable South Gloucestershire-like authority.

Every string is encodable in Windows-1252, so any file can be re-saved "from Excel".
"""

GIRL_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Ivy", "Freya", "Lily", "Florence", "Mia", "Willow",
    "Rosie", "Sophia", "Isabella", "Grace", "Daisy", "Sienna", "Poppy", "Elsie", "Emily", "Ella",
    "Evelyn", "Phoebe", "Sofia", "Evie", "Charlotte", "Harper", "Millie", "Matilda", "Ruby",
    "Zoë", "Chloë", "Renée", "Amara", "Aisha", "Maja", "Zofia", "Hannah", "Jessica", "Katie",
    "Lauren", "Megan", "Abigail", "Elizabeth", "Victoria", "Alexandra", "Rebecca", "Samantha",
    "Niamh", "Aoife", "Leah", "Holly", "Summer", "Scarlett", "Maisie", "Esme", "Layla", "Nevaeh",
]
BOY_NAMES = [
    "Oliver", "George", "Noah", "Arthur", "Leo", "Muhammad", "Harry", "Oscar", "Archie", "Henry",
    "Theodore", "Freddie", "Jack", "Charlie", "Theo", "Alfie", "Jacob", "Thomas", "Finley",
    "Lucas", "Isaac", "Tommy", "Joshua", "James", "William", "Benjamin", "Alexander", "Daniel",
    "Samuel", "Matthew", "Joseph", "Nathan", "Kai", "Tyler", "Riley", "Mason", "Logan", "Dylan",
    "Jayden", "Kacper", "Jakub", "Seán", "Ibrahim", "Yusuf", "Christopher", "Nicholas", "Edward",
    "Jonathan", "Michael", "Anthony", "Callum", "Lewis", "Reece", "Bailey", "Corey", "Ethan",
]
SURNAMES = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner",
    "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker",
    "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker",
    "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson",
    "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall",
    "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman",
    "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews",
    "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
    "Nowak", "Kowalski", "O'Brien", "Fitzgerald", "Dubois", "Okafor", "Mensah", "Ahmed",
]
NICKNAMES = {
    "Alexander": "Alex", "Alexandra": "Alex", "Benjamin": "Ben", "Charlotte": "Lottie",
    "Christopher": "Chris", "Daniel": "Dan", "Edward": "Eddie", "Elizabeth": "Lizzie",
    "Isabella": "Bella", "Jacob": "Jake", "James": "Jamie", "Jessica": "Jess", "Jonathan": "Jon",
    "Joseph": "Joe", "Joshua": "Josh", "Matthew": "Matt", "Michael": "Mike", "Nicholas": "Nick",
    "Oliver": "Ollie", "Rebecca": "Becky", "Samantha": "Sam", "Samuel": "Sam", "Thomas": "Tom",
    "Theodore": "Teddy", "Victoria": "Tori", "William": "Will", "Abigail": "Abbie",
    "Florence": "Flo", "Matilda": "Tilly", "Anthony": "Tony", "Katie": "Kate", "Zoë": "Zoe",
    "Chloë": "Chloe", "Renée": "Renee", "Seán": "Sean", "Archie": "Arch", "Harry": "Haz",
}
POSTCODE_DISTRICTS = ["BS15", "BS16", "BS30", "BS32", "BS34", "BS35", "BS36", "BS37", "GL12"]
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # Royal Mail never uses C I K M O V in the unit

SOCIAL_WORKER_CHANGE_REASONS = ["Caseload balancing", "Worker left the authority", "Team transfer",
                                "Long-term absence", "Family request", "Case stepped up"]
CLOSE_REASONS = ["RC1", "RC2", "RC3", "RC4", "RC7", "RC8"]
VOICE_METHODS = ["Direct work session", "Conversation at home", "Observation at school",
                 "Advocate report", "All about me worksheet", "Phone call", "At CiN meeting"]
DIFFERENCE_TOPICS = ["Threshold for s47", "Case closure decision", "Health assessment delay",
                     "Education placement", "Information sharing", "Plan actions not completed"]

# (action text, outcome measure, owner role) per agency; owner role is the job a real plan names.
ACTIONS_BY_AGENCY = {
    "SOCIAL_CARE": [("Complete direct work sessions with the child", "Child's views recorded in each session", "Social worker"),
                    ("Refer family to the short breaks service", "Short breaks package agreed", "Social worker"),
                    ("Carry out a carer's assessment for the mother", "Assessment completed and shared", "Social worker")],
    "EDUCATION": [("Put an attendance support plan in place", "Attendance above 95% over 6 weeks", "Designated safeguarding lead"),
                  ("Review EHCP provision at the annual review", "Provision in section F delivered", "SENCo"),
                  ("Daily check-in with key adult", "Check-ins logged every school day", "Pastoral lead")],
    "GP": [("Review medication and share the summary", "Medication review letter on file", "GP"),
           ("Offer an appointment to the father", "Appointment attended or declined", "GP")],
    "COMMUNITY_HEALTH": [("Complete a health needs assessment", "Assessment shared with the core group", "School nurse"),
                         ("Weekly health visitor contact", "Weight and feeding on track", "Health visitor")],
    "ACUTE_HEALTH": [("Paediatric review of presenting symptoms", "Consultant letter shared", "Paediatrician")],
    "MENTAL_HEALTH": [("Start CBT sessions", "Six sessions attended", "CAMHS practitioner"),
                      ("Safety plan for self-harm", "Safety plan reviewed monthly", "CAMHS practitioner")],
    "POLICE": [("Share domestic abuse call-outs with the social worker", "Call-outs shared within 1 working day", "Police safeguarding officer")],
    "YJS": [("Deliver the referral order intervention", "Sessions attended as planned", "YJS case manager")],
    "EDT": [("Alert the day team after any out-of-hours contact", "Alert on file by next working day", "EDT social worker")],
    "EARLY_HELP": [("Parenting programme for both parents", "Programme completed", "Family support worker"),
                   ("Weekly family support session", "Sessions attended", "Family support worker")],
}

"""Text a new överenskommelse starts with: the principles of Region Halland's överenskommelse
with idéburen sektor (scripts/examples/overenskommelse-halland.json), as the IOP form starts with
Skåne's principles (schema.DEFAULT_PRINCIPLES). Kept here, in the product, so nothing outside the
package is read at run time; tests/test_officials.py holds the two equal."""

PRINCIPLES_INTRO = (
    "Överenskommelsen ska verka både strategiskt och operativt. Vi tror att relationen mellan idéburen och "
    "offentlig sektor stärks ytterligare genom gemensamma principer för samverkan och konkreta åtgärds- och "
    "ansvarspunkter. Flera av åtgärds- och ansvarspunkterna utförs redan idag. Vi har ändå valt att ta med dem "
    "för att formalisera, understryka och utveckla det viktiga arbetet.\n"
    "\n"
    "Samordningen och driften av överenskommelsen sker genom arbetsgruppen. Alla undertecknande organisationer "
    "ansvarar dock för att arbeta med överenskommelsen utifrån sina egna förutsättningar och genom sin utsedda "
    "kontaktperson."
)

PRINCIPLES = [
    {
        "heading": "Dialog",
        "text": "Genom dialog kan offentlig och idéburen sektor hitta områden där vi kan komplettera och stärka "
        "varandra. Det flyttar fokus från ekonomi till processer och ökar kunskapen om varandra. Med "
        "dialogen som verktyg skapas kunskap om och förståelse för våra olika förutsättningar, mål och "
        "verksamheter.",
        "actions": [
            "Sammanställa information om vilka processer som pågår och hur parterna kan delta.",
            "Kontinuerligt och systematiskt mötas för att utbyta perspektiv och säkerställa kontaktytor.",
            "Säkerställa att dialogernas innehåll får ett mottagande och görs tillgänglig.",
        ],
        "responsibilities": [
            "Varje undertecknande organisation ansvarar för att aktivt delta i frågor som de bedömer som relevanta.",
            "Arbetsgruppen ansvarar för att initiera, följa och stötta arbetet för ökad dialog "
            "och för att sprida information om pågående dialogprocesser, deltagandets former och "
            "påverkansgrad.",
        ],
    },
    {
        "heading": "Långsiktighet",
        "text": "För att idéburen sektor ska kunna nå sin fulla potential krävs långsiktighet och goda villkor. "
        "Med en gemensamt formulerad struktur med effektivitet och genomslagskraft som grund kan offentlig "
        "och idéburen sektors kunskap och engagemang förvaltas långsiktigt och strukturerat. Det ger "
        "förutsättningar för planering, samordning och en hållbar utveckling i Halland.",
        "actions": [
            "Skapa långsiktiga lösningar och arbeta för förenklingar i till exempel ansökningar och kontaktvägar.",
            "Undersöka formerna för mer långsiktiga avtal/upphandlingar från offentliga organisationer "
            "till verksamheter inom den idéburna sektorn.",
            "De undertecknades samverkan ska präglas av kontinuerlig dialog om eventuella förändringar, "
            "särskilt i frågor om medfinansiering.",
            "Skapa en arbetsgrupp för den fortsatta processen av överenskommelsen.",
            "Skapa en kännedom om överenskommelsen och dess innehåll både hos de organisationer som "
            "signerat överenskommelsen och hos organisationer som ännu inte gjort det.",
        ],
        "responsibilities": [
            "Alla undertecknande parter ansvarar för att göra överenskommelsen och dess innehåll "
            "känt så väl inom som utanför den egna organisationen.",
            "Arbetsgruppen ansvarar för att initiera, följa och stötta processer som strävar åt "
            "förenklingar i ansökningar och kontaktvägar, samt följa arbetet med Idéburet "
            "Offentligt Partnerskap (IOP) och andra typer av avtal och upphandlingar.",
        ],
    },
    {
        "heading": "Öppenhet och insyn",
        "text": "Gemensamt för den offentliga och idéburna sektorn är dess demokratiska struktur, vilket möjliggör "
        "ett öppet och transparent arbete som bygger på tillit och förtroende.",
        "actions": [
            "Arbetet skall främja tillit och tilltro mellan de undertecknande parterna.",
            "Information om relationen mellan idéburen sektor och Region Halland görs tillgänglig digitalt.",
            "Bejaka öppenhet och nyfikenhet för den mångfald som finns inom den idéburna sektorn och inom "
            "Region Halland.",
        ],
        "responsibilities": [
            "Alla undertecknande parter gör sina styrdokument (exempelvis stadgar) tillgängliga på förfrågan.",
            "Arbetsgruppen ansvarar för att initiera, följa och stötta processer där ökad tilltro "
            "och tillit står i centrum, till exempel i tillgängliggörandet av information om "
            "relationen mellan parterna, men också om parternas särarter och olika roller.",
        ],
    },
    {
        "heading": "Självständighet och oberoende",
        "text": "Idéburna organisationers roll som röstbärare och demokratiskola grundar sig på friheten att "
        "kritiskt granska såväl samhällsutvecklingen som politiska beslut. Rättigheten att själva "
        "formulera sin värdegrund och sitt uppdrag kan inte villkoras från samverkande myndighet eller "
        "offentlig aktör.",
        "actions": [
            "Signerande organisationer stöttas i sin vilja att agera nyskapande, kritiskt granskande och "
            "samhällspåverkande.",
            "Den idéburna sektorn ges tillfälle att bli delaktig tidigt i olika beredningsprocesser, i "
            "syfte att ta tillvara på sektorns åsikter.",
        ],
        "responsibilities": [
            "Alla undertecknande parter ansvarar för att uppmärksamma om organisationer som "
            "testat nya innovativa sätt eller kritiserat samhällsutvecklingen, riskerar att mista "
            "samverkan eller medfinansiering.",
            "Arbetsgruppen ansvarar för att hålla sig informerad om de undertecknande parternas "
            "åsikter och insikter som berör överenskommelsens område, samt för att initiera, "
            "följa och stötta idéburen sektors möjlighet att delta i Region Hallands "
            "beredningsprocesser.",
        ],
    },
    {
        "heading": "Mångfald",
        "text": "Mångfalden av perspektiv är värdefull och utvecklande för samhället. Undertecknande parter har "
        "ett gemensamt ansvar för att bidra till och underlätta framväxten av såväl nya organisationer och "
        "utförare, som olika former för samverkan och avtal.",
        "actions": [
            "Undersöka om Idéburet Offentligt Partnerskap (IOP) kan vara ett komplement till Region "
            "Hallands upphandlingsförfarande.",
            "Informera om hur idéburna organisationer kan delta i Region Hallands upphandlingar.",
            "Markera mångfaldens gränser, till exempel mot antidemokratiska rörelser.",
            "Ge möjlighet för fler organisationer att underteckna och inkluderas i överenskommelsen.",
            "Öka kunskapen om idéburna organisationers olika roller samt om idéburna innovationer och "
            "entreprenörskap, både bland och utanför de undertecknade parterna.",
        ],
        "responsibilities": [
            "Alla undertecknande parter ansvarar för att underlätta möjligheten för andra "
            "organisationer att ansluta sig till överenskommelsen och för att ta avstånd från "
            "organisationer eller individer med antidemokratiska åsikter och handlingar.",
            "Arbetsgruppen ska arbeta för en ökad mångfald i utförarleden, undersöka hur "
            "användningen av IOP-avtal kan komplettera upphandlingar, samt initiera processer som "
            "stärker parternas kompetens och förståelse för olika upphandlingar och avtal.",
        ],
    },
    {
        "heading": "Kvalitet",
        "text": "I samarbeten mellan idéburna och offentliga organisationer ska parterna enas om vilka "
        "kvalitetskrav som gäller. Uppföljning och utvärdering sker med respekt för parternas olika "
        "perspektiv och förutsättningar.",
        "actions": [
            "Förbättra kvaliteten för individ och samhälle genom ett gemensamt långsiktigt arbetssätt.",
            "Verka för lättbegriplig och lätthanterlig samverkan mellan parterna.",
            "Utforma modeller för uppföljning och för hur kvalitetskrav kan utformas.",
            "Det mervärde som tjänsteproducerande organisationer inom den idéburna sektorn skapar "
            "inkluderas i uppföljningar.",
            "Arbeta för ett gemensamt språkbruk.",
        ],
        "responsibilities": [
            "Alla undertecknande parter ansvarar för att utveckla sitt eget kvalitetsarbete och "
            "hålla en god kvalitet, med tydlig värdegrund.",
            "Arbetsgruppen ansvarar för att initiera, följa och stödja processer som skapar "
            "samsyn för hur de administrativa systemen kan göras enklare att hantera och för ett "
            "gemensamt språkbruk.",
        ],
    },
]
